import type { Command } from 'commander'
import { type LocalClusterOptions, runLocalCluster } from '../../daemon/entry.js'
import { collect } from './config-flags.js'

/** `aitbc-node local-cluster`: daemons on loopback for a try-out (Ctrl-C stops them). */
export function localClusterCommand(program: Command): void {
  program
    .command('local-cluster')
    .description('run a local cluster of daemons on loopback sharing one embedded Redis (Ctrl-C stops it)')
    .option('--nodes <n>', 'how many daemons (default 3)', '3')
    .option('--data-dir <dir>', 'where the nodes keep their data', '.aitbc-local')
    .option('--base-port <port>', 'first API port (default 9001)', '9001')
    .option('--p2p-base-port <port>', 'first p2p port (default: the base port - 1931, so 9001 -> 7070)')
    .option('--set <key=value>', 'a config key for every daemon, repeatable, e.g. --set ops.gitDir=/opt/aitbc', collect)
    .action(async (o: LocalClusterOptions) => runLocalCluster(o))
}
