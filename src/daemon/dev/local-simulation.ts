import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type SimulatedChain, startSimulatedChain } from './simulated-chain.js'

/** What one local node's operations act on, all simulated and all under the cluster's data dir. */
export interface NodeSimulation {
  chain: SimulatedChain
  /** --set pairs for the node's daemon. */
  settings: string[]
}

/** The simulation of a whole local cluster: chains, git, service manager, actions. */
export interface LocalSimulation {
  nodes: NodeSimulation[]
  /** How to advance the shared git upstream, or null without git. */
  advanceGit: string | null
  close(): Promise<void>
}

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.name=aitbc local', '-c', 'user.email=local@aitbc.invalid', ...args], { cwd, stdio: 'ignore' })
}

function hasGit(): boolean {
  try {
    execFileSync('git', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** A bare upstream, a working copy to advance it, and one clone per node (kept across runs). */
function setupGit(dir: string, names: string[]): Record<string, string> | null {
  if (!hasGit()) return null
  const upstream = join(dir, 'upstream.git')
  const work = join(dir, 'upstream-work')
  if (!existsSync(upstream)) {
    mkdirSync(dir, { recursive: true })
    git(dir, 'init', '--quiet', '--bare', '--initial-branch=main', upstream)
    git(dir, 'clone', '--quiet', upstream, work)
    writeFileSync(join(work, 'README'), 'The demo repository the local cluster\'s nodes keep in sync (sync --type git).\n')
    git(work, 'add', 'README')
    git(work, 'commit', '--quiet', '-m', 'first release')
    git(work, 'push', '--quiet', 'origin', 'HEAD:main')
  }
  const clones: Record<string, string> = {}
  for (const name of names) {
    const clone = join(dir, 'nodes', name)
    if (!existsSync(clone)) git(dir, 'clone', '--quiet', upstream, clone)
    clones[name] = clone
  }
  return clones
}

/**
 * Gives every node of `./dev up` something real to operate on, clearly a
 * simulation: its own simulated chain RPC (the last node lagging until it is
 * restarted), a service-manager stand-in that restarts that chain, its own
 * clone of a demo repository with a shared upstream, and the example actions
 * restart-chain (needs force) and health-script.
 */
export async function startLocalSimulation(o: { dataDir: string, names: string[], cli: string[] }): Promise<LocalSimulation> {
  const simDir = join(o.dataDir, 'simulation')
  mkdirSync(simDir, { recursive: true })
  // One epoch for every chain of the cluster (kept across runs, so heights keep growing).
  const epochFile = join(simDir, 'epoch')
  if (!existsSync(epochFile)) writeFileSync(epochFile, String(Date.now()))
  const epochMs = Number(readFileSync(epochFile, 'utf8'))
  const clones = setupGit(join(simDir, 'git'), o.names)
  const quote = (s: string): string => `'${s.replaceAll('\'', '\'\\\'\'')}'`
  const nodes: NodeSimulation[] = []
  for (const [i, name] of o.names.entries()) {
    const lagging = o.names.length > 1 && i === o.names.length - 1
    const chain = await startSimulatedChain({ epochMs, lag: lagging ? 5 : 0 })
    const manager = join(simDir, `${name}-service-manager`)
    writeFileSync(manager, `#!/bin/sh\n# systemctl stand-in of the local cluster for ${name}: restarts its simulated chain.\nexec ${o.cli.map(quote).join(' ')} simulate-service --chain-url ${chain.url} "$@"\n`)
    chmodSync(manager, 0o755)
    const actions = {
      'restart-chain': { command: [manager, 'restart', 'aitbc-blockchain-node'], requiresForce: true, description: 'restart the (simulated) chain service' },
      'health-script': { command: [manager, 'health', 'aitbc-blockchain-node'], description: 'print the chain head (simulated)' },
    }
    nodes.push({
      chain,
      settings: [
        `chain.rpcUrl=${chain.url}`,
        `ops.serviceManager=${manager}`,
        `ops.actions=${JSON.stringify(actions)}`,
        ...(clones === null ? [] : [`ops.gitDir=${clones[name]}`]),
      ],
    })
  }
  const work = join(simDir, 'git', 'upstream-work')
  return {
    nodes,
    advanceGit: clones === null ? null : `git -C ${work} commit --allow-empty -m 'next release' && git -C ${work} push -q origin HEAD:main`,
    close: async () => {
      await Promise.all(nodes.map((n) => n.chain.close()))
    },
  }
}
