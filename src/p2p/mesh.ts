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
import { type LocalStatus, nodeStatus } from './node-status.js'
import { PeerAdmission } from './peer-admission.js'
import { peerHostAddress } from './peer-address.js'
import type { PendingDrop } from './pending-inbound.js'
import { PeerRedialer } from './peer-redialer.js'
import { RpcService } from './rpc/rpc-service.js'
import { STATUS_PUSH_METHOD, STATUS_PUSH_TIMEOUT_MS, type StatusEvent, StatusGossip } from './status-gossip.js'
import type { StalledStream } from './frames.js'
import { LocalHealth, NO_ACCUSATION_SCORE } from './liveness/local-health.js'

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
  /** Each status this node published, and each one it heard (see StatusGossip). */
  onStatus?(event: StatusEvent): void
  /** Each stream cut off because its peer stopped reading (DEFAULT_MAX_BUFFERED_BYTES unsent); name: its bound name. */
  onStalled?(s: StalledStream & { name: string | null }): void
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
    const admission = new PeerAdmission({
      bindings,
      configured: peers.map((p) => p.name),
      connectionsOf: (peerId) => node.getConnections().filter((c) => c.remotePeer.toString() === peerId),
      running: () => node.status === 'started',
      onMemberGone: (name) => view.markLost(name, 'its connection closed (it dialled this node; not a configured peer, so not redialled)'),
      log,
      onRefused: init.onRefused,
      refuseForMs: init.refuseForMs,
      unknownPeerGraceMs: init.unknownPeerGraceMs,
    })
    const node = await createMeshNode({
      privateKey: key,
      peerHosts: peers.flatMap((p) => peerHostAddress(p.address) ?? []),
      listen: init.listen,
      psk: init.psk,
      allowlist: init.allowlist,
      isMember: (id) => admission.isMember(id),
      isRefused: (id) => admission.isRefused(id),
      inbound: init.inbound,
      onInboundDrop: init.onInboundDrop,
    })
    if (created) log.info({ peerId: node.peerId.toString(), keyFile: init.keyFile }, 'created a new node key')
    node.addEventListener('peer:connect', (evt) => admission.connected(evt.detail.toString()))
    node.addEventListener('peer:disconnect', (evt) => admission.disconnected(evt.detail.toString()))
    // The view and the gossip, prober read each other: the view reaches them through
    // functions it calls only once the mesh runs (both are built below).
    const livenessLog = init.log('p2p:liveness')
    let overloaded = false
    const health = new LocalHealth({
      onChange: (score, evidence) => {
        const fields = { score, multiplier: score + 1, evidence }
        if (score >= NO_ACCUSATION_SCORE && !overloaded) {
          overloaded = true
          livenessLog.warn(fields, `this node is overloaded (local health ${score}): its timeouts stretch ${score + 1}x `
            + 'and it accuses no peer until its pings are answered in time again')
        } else if (score === 0 && overloaded) {
          overloaded = false
          livenessLog.info(fields, 'local health restored: timeouts back to their configured values')
        } else {
          livenessLog.debug(fields, 'local health changed')
        }
      },
    })
    const view: MembershipView = new MembershipView({
      selfName: init.selfName,
      suspectAfterMs: init.suspectAfterMs,
      offlineAfterMs: init.offlineAfterMs,
      slack: () => health.multiplier,
      peers,
      bindings,
      selfStatus: () => gossip.current(),
      selfRegistry: () => init.local().registry,
      onTransition: init.onTransition,
      onRegistryMismatch: init.onRegistryMismatch,
      // Nodes not connected to it hear of the loss with our next status: sent at once.
      onFirstHandLoss: () => gossip.publish(),
      onReportDisputed: (name, by) => liveness.verify(name, by),
      canCheck: (name) => liveness.canVerify(name),
      // Lifeguard: a node others found silent is more likely slow than they are; it refutes, and
      // its own timeouts stretch, so that it does not go on to accuse healthy members in turn.
      // Counted once per refutation sent (at most one a second), as memberlist counts once per
      // incarnation: a member repeating the report cannot drive this node's score up by itself.
      onAccused: (by) => {
        if (gossip.refute(by)) health.worse('accused')
      },
    })
    const malformed = new MalformedStatuses({
      ...init.malformedStatuses,
      log: init.log('p2p:gossip'),
      onMalformed: init.onMalformedStatus,
      onSuppressed: init.onWarningSuppressed,
      onTooMany: (peerId) => {
        init.onMalformedDisconnect?.()
        admission.shut(peerId)
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
      onRefusedPeer: (r) => admission.shut(r.peerId),
      onStatus: init.onStatus,
      malformed,
      push: (name, status) => rpc.call(name, STATUS_PUSH_METHOD, status, { timeoutMs: STATUS_PUSH_TIMEOUT_MS }),
    })
    const onStalled = (st: StalledStream): void => init.onStalled?.({ ...st, name: view.nameOf(st.peer) })
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
      onStalled,
      onRefused: (r) => {
        if (r.reason === 'unknown_peer') admission.shutUnlessMember(r)
        else init.onRefused?.(r)
      },
    })
    const rpc = new RpcService({
      node,
      directory: view,
      log: init.log('p2p:rpc'),
      onStalled,
      onUnknownPeer: (peerId) => {
        admission.shutUnlessMember({ reason: 'unknown_peer', name: null, peerId, message: `peer ${peerId} is no cluster member; its RPC call was refused` })
      },
    })
    rpc.register(STATUS_PUSH_METHOD, { params: nodeStatus, handler: (status, ctx) => gossip.receivePushed(ctx.peer, status) })
    const liveness: LivenessProber = new LivenessProber({
      // Each connected member is pinged from here at least twice within the view's suspectAfterMs.
      refreshMs: Math.floor(init.suspectAfterMs / 2),
      ...init.probe,
      node,
      selfName: init.selfName,
      view,
      rpc,
      log: livenessLog,
      onStalled,
      health,
    })
    const redialer = new PeerRedialer({
      node,
      peers,
      log: init.log('p2p:redial'),
      peerIdOf: (name) => bindings.peerIdOf(name),
      onConnected: (name, peerId) => admission.dialledAt(name, peerId),
      onLost: (name, reason) => view.markLost(name, reason),
      slack: () => health.multiplier,
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
