/**
 * What the operator's CLI (src/cli) may reach of the daemon, besides config
 * loading: the commands that run daemon code (the daemon itself, a local
 * cluster, init, the dev simulators). Each is loaded only when its command
 * runs, so that the client commands start without the daemon's modules; this
 * file itself imports nothing heavier than package.json and the host name.
 */
import type { ConfigFlags } from './config/load.js'
import type { InitOptions } from './init.js'
import type { LocalClusterOptions } from './local-cluster.js'
import type { SimulatedChain, SimulatedChainInit } from './dev/simulated-chain.js'

// The simulator's module imports only node built-ins, so its defaults are cheap to take eagerly.
export { DEFAULT_BASE_HEIGHT, DEFAULT_BLOCK_MS } from './dev/simulated-chain.js'
export { INIT_DEFAULTS } from './init-defaults.js'
export { VERSION } from './version.js'
export type { ConfigFlags, InitOptions, LocalClusterOptions, SimulatedChain, SimulatedChainInit }

/**
 * Runs the daemon from the build's one-file bundle of run-daemon.js
 * (rolldown.config.mjs; it loads in a third of the time of the modules it is
 * made of), or from the module itself where only tsc ran.
 */
export async function runDaemon(flags: ConfigFlags): Promise<void> {
  const bundle = new URL('./run-daemon.bundle.js', import.meta.url)
  const { existsSync } = await import('node:fs')
  const daemon = existsSync(bundle)
    ? await (import(bundle.href) as Promise<typeof import('./run-daemon.js')>)
    : await import('./run-daemon.js')
  await daemon.runDaemon(flags)
}

/** `aitbc-node local-cluster`: daemons on loopback sharing one embedded Redis. */
export async function runLocalCluster(o: LocalClusterOptions): Promise<void> {
  await (await import('./local-cluster.js')).runLocalCluster(o)
}

/** `aitbc-node init`: writes a node's files; resolves with the lines to print. */
export async function initNode(o: InitOptions): Promise<string[]> {
  return (await import('./init.js')).initNode(o)
}

/** `aitbc-node simulate-chain`: a simulated chain RPC, never part of a daemon. */
export async function startSimulatedChain(o: SimulatedChainInit): Promise<SimulatedChain> {
  return (await import('./dev/simulated-chain.js')).startSimulatedChain(o)
}

/** `aitbc-node simulate-service`: the service manager's stand-in; resolves with the exit code. */
export async function simulateService(chainUrl: string, verb: string, service: string): Promise<number> {
  return (await import('./dev/simulated-service.js')).simulateService(chainUrl, verb, service)
}
