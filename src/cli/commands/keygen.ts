import { randomBytes } from 'node:crypto'
import type { Command } from 'commander'
import type { CliIo } from '../output.js'

/** `aitbc-node keygen token|psk`: secrets printed on stdout. */
export function keygenCommands(program: Command, io: CliIo): void {
  const keygen = program.command('keygen').description('generate secrets')
  keygen
    .command('token')
    .description('print a random API token (put it in auth.tokens or AITBC_API_TOKEN)')
    .action(() => {
      io.out(`${randomBytes(32).toString('base64url')}\n`)
    })
  keygen
    .command('psk')
    .description('print a new private network key (swarm.key); copy the same file to every node, mode 0600')
    .action(async () => {
      io.out((await import('../../p2p/psk.js')).createPskText())
    })
}
