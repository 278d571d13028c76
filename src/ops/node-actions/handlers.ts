import { statfs } from 'node:fs/promises'
import type { ChainReading } from '../chain/chain-monitor.js'
import { configDigests, readConfigFile, writeConfigFile } from '../local/config-digest.js'
import { gitHead, syncGit } from '../local/git-sync.js'
import type { ProcessGroupLedger } from '../local/process-groups.js'
import { controlService, runAction } from '../local/service-control.js'
import type { LiveHealth, LiveStatus } from './contract.js'
import type { NodeActionHandlers } from './node-action-server.js'

/** What the node-local actions read and act on: config slices and a few narrow functions. */
export interface NodeActionDeps {
  self: string
  version: string
  dataDir: string
  gitDir: string | null
  serviceManager: string
  chainService: string
  configFiles: readonly string[]
  actions: Readonly<Record<string, { command: readonly string[], timeoutMs: number }>>
  /** Where the process groups of running actions are noted (in the data dir), for the reaper after a crash. */
  groups: ProcessGroupLedger
  /** Reads the chain RPC now (null when no chain is configured). */
  readChain(): Promise<ChainReading | null>
  connectedPeers(): number
  checkRedis(): Promise<LiveHealth['redis'] & { warnings: string[] }>
  clusterId(): string | null
  /** Registry mismatches and identity problems seen by the mesh. */
  meshProblems(): string[]
}

/** This node's own live status: what `status` asks every node for. */
export async function liveStatus(deps: NodeActionDeps, signal: AbortSignal): Promise<LiveStatus> {
  // A live check reads the chain RPC now rather than the last poll.
  const [reading, head] = await Promise.all([deps.readChain(), gitHead(deps.gitDir, signal, deps.groups)])
  return {
    node: deps.self,
    version: deps.version,
    uptime_s: Math.round(process.uptime()),
    chain: reading?.chain ?? null,
    chain_error: reading?.problem ?? null,
    last_sync: reading?.lastSync ?? null,
    git_head: head,
    p2p_connections: deps.connectedPeers(),
    time: Date.now(),
  }
}

/** This node's deeper self-check: what `health` asks every node for. */
export async function liveHealth(deps: NodeActionDeps, signal: AbortSignal): Promise<LiveHealth> {
  const [base, r, disk] = await Promise.all([
    liveStatus(deps, signal),
    deps.checkRedis(),
    statfs(deps.dataDir).then(
      (s) => ({ path: deps.dataDir, free_bytes: s.bavail * s.bsize, total_bytes: s.blocks * s.bsize }),
      () => null,
    ),
  ])
  const problems: string[] = []
  if (!r.ok) problems.push(`Redis registry unreachable: ${r.error}`)
  problems.push(...r.warnings)
  if (disk !== null && disk.free_bytes < 0.05 * disk.total_bytes) {
    problems.push(`disk almost full: ${Math.round(disk.free_bytes / 1e6)} MB free in ${disk.path}`)
  }
  problems.push(...deps.meshProblems())
  return {
    ...base,
    redis: { ok: r.ok, aof_enabled: r.aof_enabled, maxmemory_policy: r.maxmemory_policy, error: r.error },
    registry_cluster_id: deps.clusterId(),
    disk,
    problems,
  }
}

/** The implementations of the node-action contract on this node. */
export function nodeActionHandlers(deps: NodeActionDeps): NodeActionHandlers {
  return {
    'node.status': (_p, signal) => liveStatus(deps, signal),
    'node.health': (_p, signal) => liveHealth(deps, signal),
    'node.chain': async () => {
      const r = await deps.readChain()
      return {
        height: r?.chain?.height ?? null,
        hash: r?.chain?.hash ?? null,
        mempool_size: r?.chain?.mempool_size ?? null,
        error: r?.problem ?? (r === null ? 'no chain.rpcUrl on this node' : null),
      }
    },
    'node.git.sync': (p, signal) => syncGit(deps.gitDir, signal, p.apply, deps.groups),
    'node.service': (p, signal) => controlService(deps.serviceManager, p.verb, deps.chainService, signal, deps.groups),
    'node.config.digests': async () => ({ files: await configDigests(deps.configFiles), registry: deps.clusterId() }),
    'node.config.read': (p) => readConfigFile(deps.configFiles, p.name),
    'node.config.write': (p) => writeConfigFile(deps.configFiles, p.name, p.content_b64),
    'node.action': async (p, signal) => {
      const action = deps.actions[p.name]
      if (action === undefined) return { ok: false, exit_code: null, output: `action ${p.name} is not in ops.actions on ${deps.self}` }
      return runAction(action.command, action.timeoutMs, signal, deps.groups)
    },
  }
}
