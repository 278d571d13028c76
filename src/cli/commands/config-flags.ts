import type { Command } from 'commander'

/** Collects a repeatable option's values. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v]

/** The flags that override config keys, shared by `daemon` and `config check` (src/daemon/config/load.ts reads them). */
export function configOptions(cmd: Command): Command {
  return cmd
    .option(
      '-c, --config <file>',
      'config file (YAML); default /etc/aitbc/aitbc-node.yaml if present, or AITBC_CONFIG',
    )
    .option('--name <name>', 'node name (node.name)')
    .option('--data-dir <dir>', 'data directory (node.dataDir)')
    .option('--host <host>', 'coordinator listen address (coordinator.host)')
    .option('--port <port>', 'coordinator port (coordinator.port)')
    .option('--redis-url <url>', 'shared Redis URL (redis.url); none starts an embedded redis-server')
    .option('--log-level <level>', 'log level (log.level)')
    .option('--p2p-port <port>', 'p2p TCP port (port of p2p.listen)')
    .option('--peer <name=addr>', 'a peer, repeatable (p2p.peers)', collect)
    .option(
      '--set <key=value>',
      'set any config key, repeatable, e.g. --set agents.staleAfterMs=5000',
      collect,
    )
}
