import type { Command } from 'commander'
import { INIT_DEFAULTS, type InitOptions, initNode } from '../../daemon/entry.js'
import type { CliIo } from '../output.js'

/** `aitbc-node init`: a cluster node's files (swarm.key, admin token, config, node key). */
export function initCommand(program: Command, io: CliIo): void {
  program
    .command('init')
    .description('write what a cluster node needs: swarm.key, an admin token, a config using both, the node key; prints its peer id')
    .option('--dir <dir>', 'where config, swarm.key and tokens.yaml go', INIT_DEFAULTS.dir)
    .option('--data-dir <dir>', 'the node\'s data directory (node key)', INIT_DEFAULTS.dataDir)
    .option('--name <name>', 'this node\'s name (default: the host name)', INIT_DEFAULTS.name)
    .option('--address <host>', 'the address other nodes reach this one on', INIT_DEFAULTS.name)
    .option('--user <user>', 'the user the daemon runs as; files are given to it when it exists', INIT_DEFAULTS.user)
    .action(async (o: InitOptions) => {
      for (const line of await initNode(o)) io.out(`${line}\n`)
    })
}
