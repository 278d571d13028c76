import type { Logger } from 'pino'
import { P2pError } from './errors.js'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreateNodeKey } from './identity.js'
import { type BindingStore, NameBindings, type Refusal } from './name-bindings.js'
import { MembershipView, type NodeTransition } from './membership-view.js'
import { MalformedStatuses, type MalformedKind, type MalformedStatusLimits } from './malformed-statuses.js'
import { createMeshNode, type InboundConnectionLimits, type MeshLibp2p } from './mesh-node.js'
import type { MessageStore, ReceiptState } from './messages/message-store.js'
import { LivenessProber, type LivenessSettings } from './liveness/prober.js'
import type { MessageRefusalReason } from './messages/message-receiver.js'
import { type InboundMessageLimits, Messenger } from './messages/messenger.js'
import type { MessageFrame } from './messages/wire.js'
import type { LocalStatus } from './node-status.js'
import { peerHostAddress } from './peer-address.js'
import type { PendingDrop } from './pending-inbound.js'
import { PeerRedialer } from './peer-redialer.js'
import { RpcService } from './rpc/rpc-service.js'
import { StatusGossip } from './status-gossip.js'

/** How long a peer whose claim or call was refused is kept out. */
export const DEFAULT_REFUSE_FOR_MS = 60_000

/** How long a connected peer may stay without a bound name before it is disconnected. */
export const DEFAULT_UNKNOWN_PEER_GRACE_MS = 10_000

export interface MeshInit {
  selfName: string
  /** File holding the node's private key (created on first start). */
  keyFile: string
  listen: string
  psk: Uint8Array | null
  allowlist: readonly string[]
  /** Configured peers; a peerId binds the name, otherwise it is pinned on first sight. */
  peers: readonly { name: string, address: string, peerId?: string }[]
  /** The shared store of names pinned on first sight. */
  bindingStore: BindingStore
  statusIntervalMs: number
  /** Longest time between two publishes of an unchanged status (default statusIntervalMs). */
  statusKeepaliveMs?: number
  /** The same while this node is connected to every member it knows (see StatusGossipInit.linkedKeepaliveMs). */
  statusLinkedKeepaliveMs?: number
  /** Ping liveness of connected members. */
  probe: LivenessSettings
  suspectAfterMs: number
  offlineAfterMs: number
  version: string
  /** What the daemon knows about itself each interval. */
  local(): LocalStatus
  messageStore: MessageStore
  /** Bounds on what members may send this node. */
  inboundLimits: InboundMessageLimits
  /** Called for a member's message refused by a bound (metrics). */
  onMessageLimited?(reason: MessageRefusalReason, sender: string): void
  /** The message store's outbox bounds; near them a message is stored before it is sent. */
  outboxBounds?: { maxMessages: number, maxBytes: number }
  /** A logger per p2p part. */
  log(component: string): Logger
  onTransition?(t: NodeTransition): void
  onRegistryMismatch?(name: string, mismatch: string | null): void
  onReceipt?(target: string, state: ReceiptState): void
  onInbound?(msg: MessageFrame): void
  /** Every refused claim or call (logs, metrics). */
  onRefused?(refusal: Refusal): void
  /** How long a peer whose claim was refused is kept out (default DEFAULT_REFUSE_FOR_MS). */
  refuseForMs?: number
  /** How long a peer may stay connected without a bound name (default DEFAULT_UNKNOWN_PEER_GRACE_MS). */
  unknownPeerGraceMs?: number
  /** Bounds on inbound connections still in their handshake (the daemon's: p2p.inbound). */
  inbound: InboundConnectionLimits
  /** Each inbound connection refused or closed by those bounds. */
  onInboundDrop?(reason: PendingDrop): void
  /** When a peer's malformed statuses get it disconnected (the daemon's: p2p.malformedStatuses). */
  malformedStatuses: MalformedStatusLimits
  /** Each malformed status received. */
  onMalformedStatus?(kind: MalformedKind): void
  /** Each peer disconnected for its malformed statuses. */
  onMalformedDisconnect?(): void
  /** Each warning line about a malformed status left out (rate-limited). */
  onWarningSuppressed?(): void
}

/** The p2p side of a daemon: libp2p node, redial, status gossip, ping liveness, membership, messages, RPC. */
export class Mesh {
  private started = false

  private constructor(
    readonly node: MeshLibp2p,
    readonly view: MembershipView,
    readonly gossip: StatusGossip,
    readonly messenger: Messenger,
    readonly rpc: RpcService,
    readonly liveness: LivenessProber,
    private readonly redialer: PeerRedialer,
    private readonly log: Logger,
    private readonly listen: string,
    readonly bindings: NameBindings,
  ) {}

  static async create(init: MeshInit): Promise<Mesh> {
    const { key, created } = await loadOrCreateNodeKey(init.keyFile)
    const log = init.log('p2p')
    const peers = init.peers.filter((p) => p.name !== init.selfName)
    const bindings = new NameBindings({
      selfName: init.selfName,
      selfPeerId: peerIdFromPrivateKey(key).toString(),
      configured: peers,
      store: init.bindingStore,
      log: init.log('p2p:identity'),
      onRefused: init.onRefused,
    })
    // A peer kept out as unknown is let in again once its name is bound here (its pin reached us).
    const guard = new PeerGuard(init.refuseForMs ?? DEFAULT_REFUSE_FOR_MS, (id) => bindings.nameOf(id) !== null)
    // The peer that answered at a configured address may hear our status before its name is bound
    // (else two nodes that have not pinned each other would each wait for the other's status).
    const dialled = new Map<string, string>()
    const node = await createMeshNode({
      privateKey: key,
      peerHosts: peers.flatMap((p) => peerHostAddress(p.address) ?? []),
      listen: init.listen,
      psk: init.psk,
      allowlist: init.allowlist,
      isMember: (id) => bindings.nameOf(id) !== null || dialled.has(id),
      isRefused: (id) => guard.isRefused(id),
      inbound: init.inbound,
      onInboundDrop: init.onInboundDrop,
    })
    if (created) log.info({ peerId: node.peerId.toString(), keyFile: init.keyFile }, 'created a new node key')
    // A peer caught making a false claim, or no member, is disconnected and kept out for a while.
    const shut = (peerId: string, unknown = false): void => {
      guard.refuse(peerId, unknown)
      dialled.delete(peerId)
      for (const c of node.getConnections()) {
        if (c.remotePeer.toString() === peerId) c.abort(new Error('refused: not a cluster member or a false claim'))
      }
    }
    // A call from a peer with no name bound here is refused; the peer is kept out unless the
    // shared store, read again, says it is a member whose pin this node had not seen yet
    // (nodes starting together: keeping one out for refuseForMs would cut it off from its peer).
    const shutUnlessMember = (refusal: Refusal): void => {
      bindings.nameOfRechecked(refusal.peerId).then((name) => {
        if (name === null) {
          init.onRefused?.(refusal)
          shut(refusal.peerId, true)
        } else {
          log.debug({ node: name, peerId: refusal.peerId }, 'a call came before this node knew the caller\'s name; refused, not kept out')
        }
      }, (err: unknown) => {
        log.debug({ err, peerId: refusal.peerId }, 'could not read the name bindings; the unknown peer is kept out')
        init.onRefused?.(refusal)
        shut(refusal.peerId, true)
      })
    }
    // The view and the gossip, prober read each other: the view reaches them through
    // functions it calls only once the mesh runs (both are built below).
    const view: MembershipView = new MembershipView({
      selfName: init.selfName,
      suspectAfterMs: init.suspectAfterMs,
      offlineAfterMs: init.offlineAfterMs,
      peers,
      bindings,
      selfStatus: () => gossip.current(),
      onTransition: init.onTransition,
      onRegistryMismatch: init.onRegistryMismatch,
      // Nodes not connected to it hear of the loss with our next status: sent at once.
      onFirstHandLoss: () => gossip.publish(),
      onReportDisputed: (name, by) => liveness.verify(name, by),
    })
    const malformed = new MalformedStatuses({
      ...init.malformedStatuses,
      log: init.log('p2p:gossip'),
      onMalformed: init.onMalformedStatus,
      onSuppressed: init.onWarningSuppressed,
      onTooMany: (peerId) => {
        init.onMalformedDisconnect?.()
        shut(peerId)
      },
    })
    const gossip: StatusGossip = new StatusGossip({
      node,
      selfName: init.selfName,
      version: init.version,
      intervalMs: init.statusIntervalMs,
      keepaliveMs: init.statusKeepaliveMs,
      linkedKeepaliveMs: init.statusLinkedKeepaliveMs,
      local: init.local,
      view,
      bindings,
      log: init.log('p2p:gossip'),
      onRefusedPeer: (r) => shut(r.peerId),
      malformed,
    })
    const messenger = new Messenger({
      node,
      selfName: init.selfName,
      store: init.messageStore,
      directory: view,
      log: init.log('p2p:messenger'),
      onReceipt: init.onReceipt,
      onInbound: init.onInbound,
      inboundLimits: init.inboundLimits,
      onLimited: init.onMessageLimited,
      outboxBounds: init.outboxBounds,
      onRefused: (r) => {
        if (r.reason === 'unknown_peer') shutUnlessMember(r)
        else init.onRefused?.(r)
      },
    })
    const rpc = new RpcService({
      node,
      directory: view,
      log: init.log('p2p:rpc'),
      onUnknownPeer: (peerId) => {
        shutUnlessMember({ reason: 'unknown_peer', name: null, peerId, message: `peer ${peerId} is no cluster member; its RPC call was refused` })
      },
    })
    const liveness: LivenessProber = new LivenessProber({
      // Each connected member is pinged from here at least twice within the view's suspectAfterMs.
      refreshMs: Math.floor(init.suspectAfterMs / 2),
      ...init.probe,
      node,
      selfName: init.selfName,
      view,
      rpc,
      log: init.log('p2p:liveness'),
    })
    const redialer = new PeerRedialer({
      node,
      peers,
      log: init.log('p2p:redial'),
      peerIdOf: (name) => bindings.peerIdOf(name),
      onConnected: (name, peerId) => {
        for (const [id, n] of dialled) if (n === name) dialled.delete(id)
        dialled.set(peerId, name)
      },
      onLost: (name, reason) => view.markLost(name, reason),
    })
    // A member that is not a configured peer is not redialled: when its last connection
    // closes it is gone as far as this node can tell (it dials back if it is alive).
    const configured = new Set(peers.map((p) => p.name))
    node.addEventListener('peer:disconnect', (evt) => {
      const name = bindings.nameOf(evt.detail.toString())
      if (name === null || configured.has(name) || node.status !== 'started') return
      view.markLost(name, 'its connection closed (it dialled this node; not a configured peer, so not redialled)')
    })
    node.addEventListener('peer:connect', (evt) => {
      const peerId = evt.detail.toString()
      setTimeout(() => {
        if (bindings.nameOf(peerId) !== null || node.status !== 'started') return
        if (node.getConnections(evt.detail).length === 0) return
        log.warn({ peerId }, 'peer never proved a cluster name; disconnected')
        for (const c of node.getConnections(evt.detail)) c.abort(new Error('no cluster name bound to this peer'))
      }, init.unknownPeerGraceMs ?? DEFAULT_UNKNOWN_PEER_GRACE_MS).unref()
    })
    return new Mesh(node, view, gossip, messenger, rpc, liveness, redialer, log, init.listen, bindings)
  }

  /** This node's peer id. */
  get peerId(): string {
    return this.node.peerId.toString()
  }

  /** Addresses the node listens on. */
  addresses(): string[] {
    return this.node.getMultiaddrs().map((a) => a.toString())
  }

  /** What is wrong with this node's place in the cluster: registry mismatches, its own name pinned elsewhere. */
  problems(): string[] {
    const conflict = this.bindings.selfConflict
    return [...this.view.registryMismatches(), ...(conflict === null ? [] : [conflict])]
  }

  /** Distinct peers with an open connection. */
  connectedPeers(): number {
    return new Set(this.node.getConnections().filter((c) => c.status === 'open').map((c) => c.remotePeer.toString())).size
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    try {
      await this.node.start()
    } catch (err) {
      throw new P2pError('ERR_P2P_LISTEN', `p2p cannot listen on ${this.listen}: ${listenFailure(err)}`, { cause: err })
    }
    try {
      await this.bindings.start()
      await this.rpc.start()
      await this.messenger.start()
      this.gossip.start()
      await this.liveness.start()
      this.redialer.start()
    } catch (err) {
      await this.stop()
      throw err
    }
    this.log.info({ peerId: this.peerId, addresses: this.addresses() }, 'p2p node listening')
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.redialer.stop()
    await this.liveness.stop()
    this.gossip.stop()
    await this.messenger.stop()
    await this.rpc.stop()
    this.bindings.stop()
    await this.node.stop()
  }
}

/**
 * Peers refused for a while after a false claim or a call as a non-member. A
 * peer refused only for being unknown is let in again as soon as it is known
 * (its name's pin reached this node after its call did).
 */
class PeerGuard {
  private readonly until = new Map<string, { at: number, unknown: boolean }>()

  constructor(private readonly forMs: number, private readonly isMember: (peerId: string) => boolean) {}

  refuse(peerId: string, unknown: boolean): void {
    // Bounded: a flood of fresh ids only ever keeps the newest refusals.
    if (this.until.size >= 10_000) this.until.delete(this.until.keys().next().value!)
    const prev = this.until.get(peerId)
    // A false claim is not forgiven by a later "unknown" refusal of the same peer.
    this.until.set(peerId, { at: Date.now() + this.forMs, unknown: unknown && (prev === undefined || prev.unknown) })
  }

  isRefused(peerId: string): boolean {
    const t = this.until.get(peerId)
    if (t === undefined) return false
    if (t.at > Date.now() && !(t.unknown && this.isMember(peerId))) return true
    this.until.delete(peerId)
    return false
  }
}

/**
 * libp2p folds the socket errors of all listen addresses into one message
 * (UnsupportedListenAddressesError carries no codes), so the system error
 * codes are read from its text here, in this one place.
 */
function listenFailure(err: unknown): string {
  const text = String((err as Error).message)
  if (/EADDRINUSE/.test(text)) return 'the port is already in use'
  if (/EADDRNOTAVAIL/.test(text)) return 'the address is not one of this machine\'s'
  if (/EACCES/.test(text)) return 'permission denied (ports below 1024 need privileges)'
  return text.split('\n').find((l) => /Error/.test(l))?.trim() ?? text
}
