import type { Command } from 'commander'
import type { ConfigFlags } from '../../daemon/entry.js'
import type { CliIo } from '../output.js'
import { configOptions } from './config-flags.js'

/** `aitbc-node config check`: the effective configuration, secrets redacted; exit 2 when it is invalid. */
export function configCommands(program: Command, io: CliIo): void {
  const config = program.command('config').description('configuration tools')
  configOptions(
    config.command('check').description('validate the configuration and print it with secrets redacted'),
  ).action(async (flags: ConfigFlags) => {
    // Loaded here: the config schema is more than the client commands need.
    const { loadConfig, redactConfig } = await import('../../daemon/config/load.js')
    try {
      const loaded = loadConfig({ flags, env: process.env })
      for (const w of loaded.warnings) io.err(`warning: ${w}\n`)
      io.out(`${JSON.stringify({ file: loaded.file, config: redactConfig(loaded.config) }, null, 2)}\n`)
    } catch (err) {
      io.err(`aitbc-node: ${(err as Error).message}\n`)
      io.exitCode = 2
    }
  })
}
