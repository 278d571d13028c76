import type { Logger } from 'pino'
import { P2pError } from './errors.js'
import { loadOrCreateNodeKey } from './identity.js'
import { MembershipView, type NodeTransition } from './membership-view.js'
import { createMeshNode, type MeshLibp2p } from './mesh-node.js'
import type { MessageStore, ReceiptState } from './messages/message-store.js'
import { Messenger } from './messages/messenger.js'
import type { MessageFrame } from './messages/wire.js'
import type { LocalStatus } from './node-status.js'
import { PeerRedialer } from './peer-redialer.js'
import { RpcService } from './rpc/rpc-service.js'
import { StatusGossip } from './status-gossip.js'

export interface MeshInit {
  selfName: string
  /** File holding the node's private key (created on first start). */
  keyFile: string
  listen: string
  psk: Uint8Array | null
  allowlist: readonly string[]
  peers: readonly { name: string, address: string }[]
  statusIntervalMs: number
  suspectAfterMs: number
  offlineAfterMs: number
  version: string
  /** What the daemon knows about itself each interval. */
  local(): LocalStatus
  messageStore: MessageStore
  /** A logger per p2p part. */
  log(component: string): Logger
  onTransition?(t: NodeTransition): void
  onRegistryMismatch?(name: string, mismatch: string | null): void
  onReceipt?(target: string, state: ReceiptState): void
  onInbound?(msg: MessageFrame): void
}

/** The p2p side of a daemon: libp2p node, redial, status gossip, membership, messages, RPC. */
export class Mesh {
  private constructor(
    readonly node: MeshLibp2p,
    readonly view: MembershipView,
    readonly gossip: StatusGossip,
    readonly messenger: Messenger,
    readonly rpc: RpcService,
    private readonly redialer: PeerRedialer,
    private readonly log: Logger,
    private readonly listen: string,
  ) {}

  static async create(init: MeshInit): Promise<Mesh> {
    const { key, created } = await loadOrCreateNodeKey(init.keyFile)
    const log = init.log('p2p')
    const node = await createMeshNode({ privateKey: key, listen: init.listen, psk: init.psk, allowlist: init.allowlist })
    if (created) log.info({ peerId: node.peerId.toString(), keyFile: init.keyFile }, 'created a new node key')
    const peers = init.peers.filter((p) => p.name !== init.selfName)
    let gossip: StatusGossip | null = null
    const view = new MembershipView({
      selfName: init.selfName,
      suspectAfterMs: init.suspectAfterMs,
      offlineAfterMs: init.offlineAfterMs,
      peers,
      selfStatus: () => gossip!.current(),
      onTransition: init.onTransition,
      onRegistryMismatch: init.onRegistryMismatch,
    })
    gossip = new StatusGossip({
      node, selfName: init.selfName, version: init.version, intervalMs: init.statusIntervalMs, local: init.local, view, log: init.log('p2p:gossip'),
    })
    const messenger = new Messenger({
      node,
      selfName: init.selfName,
      store: init.messageStore,
      directory: view,
      log: init.log('p2p:messenger'),
      onReceipt: init.onReceipt,
      onInbound: init.onInbound,
    })
    const rpc = new RpcService({ node, directory: view, log: init.log('p2p:rpc') })
    const redialer = new PeerRedialer({
      node, peers, log: init.log('p2p:redial'), onLost: (name, reason) => view.markLost(name, reason),
    })
    return new Mesh(node, view, gossip, messenger, rpc, redialer, log, init.listen)
  }

  /** This node's peer id. */
  get peerId(): string {
    return this.node.peerId.toString()
  }

  /** Addresses the node listens on. */
  addresses(): string[] {
    return this.node.getMultiaddrs().map((a) => a.toString())
  }

  /** Distinct peers with an open connection. */
  connectedPeers(): number {
    return new Set(this.node.getConnections().filter((c) => c.status === 'open').map((c) => c.remotePeer.toString())).size
  }

  async start(): Promise<void> {
    try {
      await this.node.start()
    } catch (err) {
      throw new P2pError('ERR_P2P_LISTEN', `p2p cannot listen on ${this.listen}: ${listenFailure(err)}`, { cause: err })
    }
    try {
      await this.rpc.start()
      await this.messenger.start()
      this.gossip.start()
      this.redialer.start()
    } catch (err) {
      await this.stop()
      throw err
    }
    this.log.info({ peerId: this.peerId, addresses: this.addresses() }, 'p2p node listening')
  }

  async stop(): Promise<void> {
    await this.redialer.stop()
    this.gossip.stop()
    await this.messenger.stop()
    await this.rpc.stop()
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
