import type { NodeView, OutgoingRecord } from '../../p2p/index.js'
import type { NodeActionName, NodeActionParams, NodeActionResult } from '../node-actions/contract.js'

export type { LiveHealth, LiveStatus } from '../node-actions/contract.js'

/** What a node action call carries besides its params: the deadline and the operation it belongs to. */
export interface ActionCall {
  signal: AbortSignal
  /** ms since the epoch by which the caller stops waiting; the serving node never starts work after it. */
  deadlineAt: number
  opId: string
}

/** Everything operations need from the rest of the daemon, as narrow functions. */
export interface ClusterAccess {
  selfName: string
  /** Every node name, this one included. */
  nodeNames(): string[]
  /** The membership view (gossip). */
  view(): NodeView[]
  /**
   * Runs a node action on a node (this one through the same server peers
   * call); the answer is checked against the contract.
   */
  invoke<N extends NodeActionName>(
    node: string,
    action: N,
    params: NodeActionParams<N>,
    call: ActionCall,
  ): Promise<NodeActionResult<N>>
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
