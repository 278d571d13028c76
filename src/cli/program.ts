import { Command, CommanderError, Option } from 'commander'
import { VERSION } from '../daemon/entry.js'
import { CliError } from './api-client.js'
import { agentRunCommand } from './commands/agent-run.js'
import { agentCommands } from './commands/agents.js'
import { aiCommands } from './commands/ai.js'
import { configCommands } from './commands/config.js'
import { daemonCommand } from './commands/daemon.js'
import { initCommand } from './commands/init.js'
import { keygenCommands } from './commands/keygen.js'
import { localClusterCommand } from './commands/local-cluster.js'
import { messageCommands } from './commands/messages.js'
import { nodesCommands } from './commands/nodes.js'
import { opsCommands } from './commands/operations.js'
import { simulateCommands } from './commands/simulate.js'
import { strategyCommands } from './commands/strategy.js'
import { taskCommands } from './commands/tasks.js'
import type { CliIo, TargetOf } from './output.js'

/** Every command of `aitbc-node`, writing to `io`; a usage error throws (CommanderError) instead of exiting. */
export function createProgram(io: CliIo): Command {
  const program = new Command('aitbc-node')
    // Set before the commands are added: subcommands inherit both.
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .version(VERSION)
    .description('AITBC cluster node: daemon and operator CLI')
    .addOption(new Option('--url <url>', 'daemon API URL (repeatable for agent run, which fails over between them; other commands use the last)')
      .env('AITBC_URL').default('http://127.0.0.1:9001').argParser((v: string, prev: string | string[]) => (Array.isArray(prev) ? [...prev, v] : [v])))
    .addOption(new Option('--token <token>', 'API bearer token').env('AITBC_TOKEN'))
    .option('--json', 'print JSON instead of tables', false)

  const target: TargetOf = (cmd) => {
    const o = cmd.optsWithGlobals() as { url: string | string[], token?: string, json: boolean }
    const urls = Array.isArray(o.url) ? o.url : [o.url]
    return { url: urls.at(-1)!, urls, token: o.token, json: o.json, io }
  }
  daemonCommand(program)
  configCommands(program, io)
  keygenCommands(program, io)
  initCommand(program, io)
  simulateCommands(program, io)
  localClusterCommand(program)
  agentRunCommand(agentCommands(program, target), target)
  nodesCommands(program, target)
  messageCommands(program, target)
  taskCommands(program, target)
  strategyCommands(program, target)
  aiCommands(program, target)
  opsCommands(program, target)
  return program
}

/** How a run ended: `failed` runs exit at once with `code`; others leave the process to end by itself. */
export interface CliOutcome {
  code: number
  failed: boolean
}

/** Runs one command line (`argv` as process.argv: node, script, args...). */
export async function runCli(argv: string[], io: CliIo): Promise<CliOutcome> {
  try {
    await createProgram(io).parseAsync(argv)
    return { code: io.exitCode, failed: false }
  } catch (err) {
    // Usage errors are 2, as docs/cli.md promises; help and --version are not errors.
    if (err instanceof CommanderError) {
      return { code: /^commander\.(helpDisplayed|help|version)$/.test(err.code) ? 0 : 2, failed: true }
    }
    if (err instanceof CliError) {
      // --json always prints JSON, refusals included.
      if (argv.includes('--json')) io.out(`${JSON.stringify({ status: 'error', code: err.apiCode ?? 'ERR_CLI', message: err.message }, null, 2)}\n`)
      io.err(`aitbc-node: ${err.message}\n`)
      return { code: err.exitCode, failed: true }
    }
    io.err(`aitbc-node: ${(err as Error).stack ?? String(err)}\n`)
    return { code: 1, failed: true }
  }
}
