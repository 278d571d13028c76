import { hostname } from 'node:os'

/** What `aitbc-node init` writes where, unless told otherwise (kept apart from init.ts so the CLI's help loads no libp2p). */
export const INIT_DEFAULTS = {
  dir: '/etc/aitbc',
  dataDir: '/var/lib/aitbc/node',
  name: hostname().split('.')[0]?.toLowerCase() || 'node',
  user: 'aitbc',
}
