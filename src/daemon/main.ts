import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { agentRunCommand } from './cli/agent-run.js'
import { agentCommands } from './cli/agents.js'
import { CliError } from './cli/api-client.js'
import { meshCommands } from './cli/mesh.js'
import { opsCommands } from './cli/ops.js'
import { taskCommands } from './cli/tasks.js'
import type { ConfigFlags } from './config/load.js'
import { INIT_DEFAULTS } from './init-defaults.js'
import type { InitOptions } from './init.js'
import type { LocalClusterOptions } from './local-cluster.js'
import { VERSION } from './version.js'

// What only some commands need (the daemon, libp2p, the config schema) is loaded
// by those commands, so that the client commands start quickly.

const collect = (v: string, prev: string[] = []) => [...prev, v]

function configOptions(cmd: Command): Command {
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

/**
 * The daemon command's code: the build's one-file bundle of run-daemon.js
 * (rolldown.config.mjs; it loads in a third of the time of the modules it is
 * made of), or the module itself where only tsc ran (tests from source).
 */
async function loadDaemonCommand(): Promise<typeof import('./run-daemon.js')> {
  const bundle = new URL('./run-daemon.bundle.js', import.meta.url)
  if (existsSync(bundle)) return import(bundle.href) as Promise<typeof import('./run-daemon.js')>
  return import('./run-daemon.js')
}

const program = new Command('aitbc-node')
  // Throw instead of exiting on usage errors, for every command defined below: they exit 2.
  .exitOverride()
  .version(VERSION)
  .description('AITBC cluster node: daemon and operator CLI')
  .addOption(new Option('--url <url>', 'daemon API URL (repeatable for agent run, which fails over between them; other commands use the last)')
    .env('AITBC_URL').default('http://127.0.0.1:9001').argParser((v: string, prev: string | string[]) => (Array.isArray(prev) ? [...prev, v] : [v])))
  .addOption(new Option('--token <token>', 'API bearer token').env('AITBC_TOKEN'))
  .option('--json', 'print JSON instead of tables', false)

configOptions(
  program.command('daemon').description('run the node daemon (mesh, coordinator API, operations)'),
).action(async (flags: ConfigFlags) => (await loadDaemonCommand()).runDaemon(flags))

const config = program.command('config').description('configuration tools')
configOptions(
  config.command('check').description('validate the configuration and print it with secrets redacted'),
).action(async (flags: ConfigFlags) => {
  const { loadConfig, redactConfig } = await import('./config/load.js')
  try {
    const loaded = loadConfig({ flags, env: process.env })
    for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`)
    process.stdout.write(
      `${JSON.stringify({ file: loaded.file, config: redactConfig(loaded.config) }, null, 2)}\n`,
    )
  } catch (err) {
    process.stderr.write(`aitbc-node: ${(err as Error).message}\n`)
    process.exitCode = 2
  }
})

const keygen = program.command('keygen').description('generate secrets')
keygen
  .command('token')
  .description('print a random API token (put it in auth.tokens or AITBC_API_TOKEN)')
  .action(() => {
    process.stdout.write(`${randomBytes(32).toString('base64url')}\n`)
  })
keygen
  .command('psk')
  .description('print a new private network key (swarm.key); copy the same file to every node, mode 0600')
  .action(async () => {
    process.stdout.write((await import('../p2p/psk.js')).createPskText())
  })

program
  .command('init')
  .description('write what a cluster node needs: swarm.key, an admin token, a config using both, the node key; prints its peer id')
  .option('--dir <dir>', 'where config, swarm.key and tokens.yaml go', INIT_DEFAULTS.dir)
  .option('--data-dir <dir>', 'the node\'s data directory (node key)', INIT_DEFAULTS.dataDir)
  .option('--name <name>', 'this node\'s name (default: the host name)', INIT_DEFAULTS.name)
  .option('--address <host>', 'the address other nodes reach this one on', INIT_DEFAULTS.name)
  .option('--user <user>', 'the user the daemon runs as; files are given to it when it exists', INIT_DEFAULTS.user)
  .action(async (o: InitOptions) => {
    const { initNode } = await import('./init.js')
    for (const line of await initNode(o)) process.stdout.write(`${line}\n`)
  })

program
  .command('simulate-chain')
  .description('serve a simulated AITBC chain RPC (GET /rpc/head, /rpc/mempool, /health) for a node without a chain; never part of a daemon')
  .option('--port <port>', 'port on 127.0.0.1 (0 picks one)', '8006')
  .option('--epoch <ms>', 'ms since the epoch at which the chain was at height 100 (chains with one epoch agree)', String(Date.now()))
  .option('--block-ms <ms>', 'one block every this many ms', '2000')
  .option('--lag <n>', 'start n blocks behind, stuck until POST /sim/restart', '0')
  .action(async (o: { port: string, epoch: string, blockMs: string, lag: string }) => {
    const { startSimulatedChain } = await import('./dev/simulated-chain.js')
    const chain = await startSimulatedChain({
      port: Number(o.port), epochMs: Number(o.epoch), blockMs: Number(o.blockMs), lag: Number(o.lag),
    })
    process.stdout.write(`simulated chain RPC at ${chain.url} (height ${chain.height()}); set chain.rpcUrl=${chain.url}\n`)
  })

program
  .command('simulate-service')
  .description('the service-manager stand-in for a simulated chain: restart|start|is-active|health SERVICE (what systemctl would do)')
  .requiredOption('--chain-url <url>', 'the simulated chain RPC')
  .argument('<verb>')
  .argument('<service>')
  .action(async (verb: string, service: string, o: { chainUrl: string }) => {
    process.exitCode = await (await import('./dev/simulated-service.js')).simulateService(o.chainUrl, verb, service)
  })

program
  .command('local-cluster')
  .description('run a local cluster of daemons on loopback sharing one embedded Redis (Ctrl-C stops it)')
  .option('--nodes <n>', 'how many daemons (default 3)', '3')
  .option('--data-dir <dir>', 'where the nodes keep their data', '.aitbc-local')
  .option('--base-port <port>', 'first API port (default 9001)', '9001')
  .option('--p2p-base-port <port>', 'first p2p port (default: the base port - 1931, so 9001 -> 7070)')
  .option('--set <key=value>', 'a config key for every daemon, repeatable, e.g. --set ops.gitDir=/opt/aitbc', collect)
  .action(async (o: LocalClusterOptions) => (await import('./local-cluster.js')).runLocalCluster(o))

const apiTarget = (cmd: Command) => {
  const o = cmd.optsWithGlobals() as { url: string | string[], token?: string, json: boolean }
  const urls = Array.isArray(o.url) ? o.url : [o.url]
  return { url: urls.at(-1)!, urls, token: o.token, json: o.json }
}
agentRunCommand(agentCommands(program, apiTarget), apiTarget)
meshCommands(program, apiTarget)
taskCommands(program, apiTarget)
opsCommands(program, apiTarget)

const wantsJson = process.argv.includes('--json')
program.parseAsync(process.argv).catch((err) => {
  // Usage errors are 2, as the README promises; help and --version are not errors.
  if (err instanceof CommanderError) {
    process.exit(/^commander\.(helpDisplayed|help|version)$/.test(err.code) ? 0 : 2)
  }
  if (err instanceof CliError) {
    // --json always prints JSON, refusals included.
    if (wantsJson) process.stdout.write(`${JSON.stringify({ status: 'error', code: err.apiCode ?? 'ERR_CLI', message: err.message }, null, 2)}\n`)
    process.stderr.write(`aitbc-node: ${err.message}\n`)
    process.exit(err.exitCode)
  }
  process.stderr.write(`aitbc-node: ${(err as Error).stack ?? err}\n`)
  process.exit(1)
})
