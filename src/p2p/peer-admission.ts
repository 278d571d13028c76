import type { Connection } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { NameBindings, Refusal } from './name-bindings.js'

/** How long a peer whose claim or call was refused is kept out. */
export const DEFAULT_REFUSE_FOR_MS = 60_000

/** How long a connected peer may stay without a bound name before it is disconnected. */
export const DEFAULT_UNKNOWN_PEER_GRACE_MS = 10_000

/** Most refused peers remembered: a flood of fresh ids only ever keeps the newest refusals. */
const MAX_REFUSED = 10_000

export interface PeerAdmissionInit {
  bindings: Pick<NameBindings, 'nameOf' | 'nameOfRechecked'>
  /** Names of the configured peers (these are redialled, so their lost connections are not a loss). */
  configured: readonly string[]
  /** The open connections to a peer (read only once the node runs). */
  connectionsOf(peerId: string): Connection[]
  /** Whether the node is running (events that arrive while it stops are ignored). */
  running(): boolean
  /** A member that dialled this node and is not configured lost its last connection. */
  onMemberGone(name: string): void
  log: Logger
  /** Every refusal that keeps a peer out (logs, metrics). */
  onRefused?(refusal: Refusal): void
  /** How long a refused peer is kept out (default DEFAULT_REFUSE_FOR_MS). */
  refuseForMs?: number
  /** How long a peer may stay connected without a bound name (default DEFAULT_UNKNOWN_PEER_GRACE_MS). */
  unknownPeerGraceMs?: number
}

/**
 * Who may stay connected to this node. A member is a peer whose name is
 * bound here, or the peer that answered at a configured peer's address (it
 * may hear our status before its name is bound, or two nodes that have not
 * pinned each other would each wait for the other's status). A peer caught
 * making a false claim, or calling as no member, is disconnected and kept out
 * for a while; one kept out only for being unknown is let in again as soon
 * as its name is bound here.
 */
export class PeerAdmission {
  private readonly refused = new Map<string, { until: number, unknown: boolean }>()
  /** peer id -> configured name, for peers reached at a configured address. */
  private readonly dialled = new Map<string, string>()
  private readonly configured: ReadonlySet<string>
  private readonly refuseForMs: number

  constructor(private readonly init: PeerAdmissionInit) {
    this.configured = new Set(init.configured)
    this.refuseForMs = init.refuseForMs ?? DEFAULT_REFUSE_FOR_MS
  }

  /** Whether a peer may hear this node's status and call it. */
  isMember(peerId: string): boolean {
    return this.init.bindings.nameOf(peerId) !== null || this.dialled.has(peerId)
  }

  /** Whether a peer is kept out now. */
  isRefused(peerId: string): boolean {
    const r = this.refused.get(peerId)
    if (r === undefined) return false
    if (r.until > Date.now() && !(r.unknown && this.init.bindings.nameOf(peerId) !== null)) return true
    this.refused.delete(peerId)
    return false
  }

  /** The peer that answered at a configured peer's address is the one that name dials now. */
  dialledAt(name: string, peerId: string): void {
    for (const [id, n] of this.dialled) if (n === name) this.dialled.delete(id)
    this.dialled.set(peerId, name)
  }

  /** Disconnects a peer and keeps it out for refuseForMs (`unknown`: only until its name is bound). */
  shut(peerId: string, unknown = false): void {
    if (this.refused.size >= MAX_REFUSED) this.refused.delete(this.refused.keys().next().value!)
    const prev = this.refused.get(peerId)
    // A false claim is not forgiven by a later "unknown" refusal of the same peer.
    this.refused.set(peerId, { until: Date.now() + this.refuseForMs, unknown: unknown && (prev === undefined || prev.unknown) })
    this.dialled.delete(peerId)
    for (const c of this.init.connectionsOf(peerId)) c.abort(new Error('refused: not a cluster member or a false claim'))
  }

  /**
   * A call from a peer with no name bound here was refused. The peer is kept
   * out unless the shared store, read again, says it is a member whose pin
   * this node had not seen yet (nodes starting together: keeping one out
   * would cut it off from its peer for refuseForMs).
   */
  shutUnlessMember(refusal: Refusal): void {
    const { log, onRefused } = this.init
    this.init.bindings.nameOfRechecked(refusal.peerId).then((name) => {
      if (name === null) {
        onRefused?.(refusal)
        this.shut(refusal.peerId, true)
      } else {
        log.debug({ node: name, peerId: refusal.peerId }, 'a call came before this node knew the caller\'s name; refused, not kept out')
      }
    }, (err: unknown) => {
      log.debug({ err, peerId: refusal.peerId }, 'could not read the name bindings; the unknown peer is kept out')
      onRefused?.(refusal)
      this.shut(refusal.peerId, true)
    })
  }

  /** A peer connected: it has unknownPeerGraceMs to prove a cluster name. */
  connected(peerId: string): void {
    setTimeout(() => {
      if (this.init.bindings.nameOf(peerId) !== null || !this.init.running()) return
      const connections = this.init.connectionsOf(peerId)
      if (connections.length === 0) return
      this.init.log.warn({ peerId }, 'peer never proved a cluster name; disconnected')
      for (const c of connections) c.abort(new Error('no cluster name bound to this peer'))
    }, this.init.unknownPeerGraceMs ?? DEFAULT_UNKNOWN_PEER_GRACE_MS).unref()
  }

  /**
   * A peer's last connection closed. A member that is not a configured peer
   * is not redialled, so it is gone as far as this node can tell (it dials
   * back if it is alive).
   */
  disconnected(peerId: string): void {
    const name = this.init.bindings.nameOf(peerId)
    if (name === null || this.configured.has(name) || !this.init.running()) return
    this.init.onMemberGone(name)
  }
}
