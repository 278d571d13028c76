import type { ChainStatus, NodeView, OutgoingRecord } from '../../p2p/index.js'

/** What a node says about itself when asked live (RPC node.status, or locally). */
export interface LiveStatus {
  node: string
  version: string
  uptime_s: number
  chain: ChainStatus | null
  chain_error: string | null
  last_sync: number | null
  git_head: string | null
  p2p_connections: number
  /** The node's clock (ms since the epoch) when it answered, for skew checks. */
  time: number
}

/** A node's deeper self-check (RPC node.health). */
export interface LiveHealth extends LiveStatus {
  redis: { ok: boolean, aof_enabled: boolean | null, maxmemory_policy: string | null, error: string | null }
  registry_cluster_id: string | null
  disk: { path: string, free_bytes: number, total_bytes: number } | null
  problems: string[]
}

/** The node's own checks, run by its daemon. */
export interface LocalProbe {
  status(): Promise<LiveStatus>
  health(): Promise<LiveHealth>
}

/** Everything operations need from the rest of the daemon, as narrow functions. */
export interface ClusterAccess {
  selfName: string
  /** Every node name, this one included. */
  nodeNames(): string[]
  /** The membership view (gossip). */
  view(): NodeView[]
  /** Calls a node-local action on a peer through the mesh RPC. */
  call(node: string, method: string, params: unknown, opts: { timeoutMs: number, signal: AbortSignal }): Promise<unknown>
  /** Runs a node-local action on a node: this one directly, others through call(). */
  invoke(node: string, method: string, params: unknown, signal: AbortSignal, deadlineAt: number): Promise<unknown>
  local: LocalProbe
  /** Sends a message with receipts (the messenger). */
  send(to: string, body: string, ttlMs: number, waitMs: number): Promise<OutgoingRecord>
  suspectAfterMs: number
  /**
   * The SSH fallback for a node whose daemon does not answer: the state of its
   * daemon and chain services, and (force) a start of the daemon. null when no
   * SSH path is configured for the node.
   */
  sshCheck?(node: string, force: boolean, signal: AbortSignal): Promise<SshCheck | null>
}

/** What the SSH fallback found on a node. */
export interface SshCheck {
  daemon: string
  chain: string
  started: boolean
}

/** A request named a target that is not a node of this cluster. */
export class UnknownTargetError extends Error {
  readonly code = 'ERR_OPS_UNKNOWN_TARGET'
  constructor(readonly target: string, readonly valid: string[]) {
    super(`target_node: unknown node "${target}"; valid targets: all, ${valid.join(', ')}`)
  }
}

/** "all" or one known node name. */
export function resolveTargets(access: ClusterAccess, target: string): string[] {
  const names = access.nodeNames()
  if (target === 'all') return names
  if (!names.includes(target)) throw new UnknownTargetError(target, names)
  return [target]
}
