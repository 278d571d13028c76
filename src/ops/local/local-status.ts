import type { LocalStatus, RegistryFingerprint } from '../../p2p/index.js'
import type { ChainReading } from '../chain/chain-monitor.js'

/** What this node's status is built from (the components of localStatus). */
export interface LocalStatusSources {
  /** The chain monitor, or null when no chain RPC is configured. */
  chain: { current(): ChainReading } | null
  /** Where the registry is; its cluster id is null until read. */
  registry(): RegistryFingerprint
  /** False while the Redis registry is unreachable (the node is then degraded). */
  registryReachable(): boolean
  /** Operations running on this daemon. */
  runningOps(): number
  /** The coordinator API's URL, null until it listens. */
  coordinatorUrl(): string | null
}

/** What this node says about itself in its next status: a failed check is a problem, which makes it degraded. */
export function localStatus(s: LocalStatusSources): LocalStatus {
  const reading = s.chain?.current() ?? null
  const problems: string[] = []
  if (reading?.problem != null) problems.push(reading.problem)
  if (!s.registryReachable()) problems.push('Redis registry unreachable')
  return {
    chain: reading?.chain ?? null,
    last_sync: reading?.lastSync ?? null,
    git_head: null,
    registry: s.registry(),
    running_ops: s.runningOps(),
    coordinator_url: s.coordinatorUrl(),
    problems,
  }
}
