import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { type Identify, identify } from '@libp2p/identify'
import type { ConnectionGater, Libp2p, MultiaddrConnection, PeerId, PrivateKey } from '@libp2p/interface'
import { type Ping, ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { MAX_SCORE } from './liveness/local-health.js'
import { MAX_STATUS_BYTES } from './node-status.js'
import { PendingInbound, type PendingDrop } from './pending-inbound.js'
import { installPromiseWithResolvers } from './polyfill.js'
import { installLazyWindowUpdates } from './yamux-window.js'

/** The libp2p node every other p2p part is built on. */
export type MeshLibp2p = Libp2p<{ pubsub: GossipSub, identify: Identify, ping: Ping }>

/**
 * The most a peer may send on one stream before we read it (yamux grows a
 * stream's window from 256 KiB up to this). Half of what a paused stream may
 * hold unread (libp2p aborts a stream past 4 MiB), so a reader that pauses
 * because it is busy never has its stream reset under it.
 */
export const MAX_STREAM_WINDOW_BYTES = 2 * 1024 * 1024

/** How long a dial may take. */
export const DEFAULT_DIAL_TIMEOUT_MS = 5000

export interface MeshNodeInit {
  /** The node's persisted key (see loadOrCreateNodeKey). */
  privateKey: PrivateKey
  /** Listen multiaddr, e.g. /ip4/0.0.0.0/tcp/7070. */
  listen: string
  /** Private network key (swarm.key bytes); none means an open network. */
  psk?: Uint8Array | null
  /** Peer IDs allowed to connect in either direction; empty means anyone (with the PSK, if set). */
  allowlist?: readonly string[]
  /** How long a dial may take (default DEFAULT_DIAL_TIMEOUT_MS). */
  dialTimeoutMs?: number
  /** Whether a peer id is a cluster member (bound to a name); gossip is neither published nor gossiped to others. */
  isMember?(peerId: string): boolean
  /** Peers refused for now (a refused claim): no connection either way. */
  isRefused?(peerId: string): boolean
  /**
   * IP addresses of the configured peers (/ip4/... or /ip6/...). libp2p turns
   * away a host's inbound connections past 5 a second and past 10 pending, so
   * nodes behind one address (one machine, one NAT) restarting or joining
   * together would be refused and wait out a redial backoff. Connections from
   * these hosts skip those limits; they are still encrypted, and checked
   * against the PSK, the allowlist and the name bindings like any other.
   */
  peerHosts?: readonly string[]
  /** Bounds on inbound connections still in their handshake (see PendingInbound); the daemon's: p2p.inbound. */
  inbound: InboundConnectionLimits
  /** Each inbound connection refused or closed by those bounds. */
  onInboundDrop?(reason: PendingDrop): void
}

/** Bounds on inbound connections that have not finished their handshake. */
export interface InboundConnectionLimits {
  /** In all, from hosts that are no configured peer's. */
  maxPending: number
  /** From one host (an IPv6 /64) that is no configured peer's. */
  maxPendingPerHost: number
  /** Time such a connection has to finish its handshake. */
  handshakeTimeoutMs: number
}

/**
 * Keeps out, inbound and outbound, every peer not on the allowlist (when
 * there is one) and every peer refused for now.
 */
export function meshGater(
  allowlist: readonly string[],
  isRefused: (peerId: string) => boolean = () => false,
  pending: PendingInbound | null = null,
): ConnectionGater {
  const allowed = new Set(allowlist)
  const deny = (peer: PeerId): boolean => {
    const id = peer.toString()
    return (allowed.size > 0 && !allowed.has(id)) || isRefused(id)
  }
  return {
    ...(pending === null ? {} : { denyInboundConnection: (maConn: MultiaddrConnection) => pending.deny(maConn) }),
    denyDialPeer: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny,
    denyInboundUpgradedConnection: (peer: PeerId, maConn: MultiaddrConnection) => {
      pending?.upgraded(maConn)
      return deny(peer)
    },
    denyOutboundUpgradedConnection: deny,
  }
}

/** A received gossip message's cheap identity: its signature (its data when unsigned, which is refused anyway). */
export function fastMessageId(msg: { signature?: Uint8Array, data?: Uint8Array }): string {
  const bytes = msg.signature ?? msg.data ?? new Uint8Array()
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/** Builds (but does not start) the libp2p node: tcp, noise, yamux, identify, ping, gossipsub, optional pnet. */
export async function createMeshNode(init: MeshNodeInit): Promise<MeshLibp2p> {
  installPromiseWithResolvers()
  installLazyWindowUpdates()
  const psk = init.psk ?? null
  const peerHosts = [...new Set(init.peerHosts ?? [])]
  const inbound = init.inbound
  const pending = new PendingInbound({
    maxTotal: inbound.maxPending,
    maxPerHost: inbound.maxPendingPerHost,
    handshakeTimeoutMs: inbound.handshakeTimeoutMs,
    peerHosts,
    onDrop: (reason) => init.onInboundDrop?.(reason),
  })
  return createLibp2p({
    start: false,
    privateKey: init.privateKey,
    addresses: { listen: [init.listen] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: MAX_STREAM_WINDOW_BYTES } })],
    ...(psk === null ? {} : { connectionProtector: preSharedKey({ psk }) }),
    connectionGater: meshGater(init.allowlist ?? [], init.isRefused, pending),
    connectionManager: {
      dialTimeout: init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
      // PeerRedialer passes its own timeout, stretched by this node's local health; libp2p's
      // per-address bound (6 s) would cut an overloaded node's handshakes off under it.
      addressDialTimeout: (init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS) * (MAX_SCORE + 1),
      // The other side of such a dial: libp2p's own bound (10 s) cut overloaded handshakes off
      // half-way ("Encryption failed" at the dialler), all that work thrown away. Inbound sockets
      // from hosts that are no configured peer's are still closed after inbound.handshakeTimeoutMs.
      inboundUpgradeTimeout: (init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS) * (MAX_SCORE + 1),
      // Redial of configured peers is ours (see PeerRedialer): libp2p's queue gives up.
      reconnectRetries: 0,
      allow: peerHosts,
      // PendingInbound bounds (and counts) these, per host and in all. libp2p counts a socket
      // before asking the gater, so its own bound, uncounted, is only a backstop above ours.
      maxIncomingPendingConnections: 2 * inbound.maxPending,
    },
    // Connections are pinged by our LivenessProber, which tells a stalled peer from a stalled self.
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // Status is latest-wins and re-sent every interval; a publish with no
        // peers yet is not an error.
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        fallbackToFloodsub: false,
        // Each status reaches a node from several mesh peers; without a fast id gossipsub
        // checks every copy's Ed25519 signature before it finds the duplicate (a tenth of an
        // idle daemon's CPU). A valid message's signature names it; a forged copy that arrives
        // first fails its check and is not remembered, so the real one still gets through.
        fastMsgIdFn: fastMessageId,
        // IDONTWANT (gossipsub 1.2) tells each mesh peer not to send a large message we already
        // have. Statuses are small: the notices cost more than the copies they save (a twelfth
        // of a forming cluster's CPU went to them), so none is sent below a status's limit.
        idontwantMinDataSize: MAX_STATUS_BYTES + 1,
        scoreParams: {
          // No penalty for many peers behind one IP address. Gossipsub's default (-5 × (peers
          // - 10)², a Sybil defence for open networks) graylists every peer of a node with more
          // than 14 peers on one address (a cluster on one host, or behind one NAT), dropping
          // their statuses so that they never see each other. Who may speak here is decided
          // by the node's peer id and name binding, not its address.
          IPColocationFactorWeight: 0,
          // A peer that is no cluster member scores below the publish and gossip
          // thresholds (so it is sent nothing) but above the graylist (so its
          // first status can still be judged and pin its name).
          ...(init.isMember === undefined ? {} : { appSpecificScore: (id: string) => (init.isMember!(id) ? 0 : -6) }),
        },
        ...(init.isMember === undefined
          ? {}
          : { scoreThresholds: { gossipThreshold: -10, publishThreshold: -50, graylistThreshold: -80 } }),
      }),
    },
  })
}
