import type { Command } from 'commander'
import { type ConfigFlags, runDaemon } from '../../daemon/entry.js'
import { configOptions } from './config-flags.js'

/** `aitbc-node daemon`: runs the node through the daemon's one entry. */
export function daemonCommand(program: Command): void {
  configOptions(
    program.command('daemon').description('run the node daemon (mesh, coordinator API, operations)'),
  ).action(async (flags: ConfigFlags) => runDaemon(flags))
}
