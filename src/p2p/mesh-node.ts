import { gossipsub, type GossipsubEvents } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { type Identify, identify } from '@libp2p/identify'
import type { ConnectionGater, Libp2p, PeerId, PrivateKey, PubSub } from '@libp2p/interface'
import { type PingService, ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { installPromiseWithResolvers } from './polyfill.js'

/** The libp2p node every other p2p part is built on. */
export type MeshLibp2p = Libp2p<{ pubsub: PubSub<GossipsubEvents>, identify: Identify, ping: PingService }>

export interface MeshNodeInit {
  /** The node's persisted key (see loadOrCreateNodeKey). */
  privateKey: PrivateKey
  /** Listen multiaddr, e.g. /ip4/0.0.0.0/tcp/7070. */
  listen: string
  /** Private network key (swarm.key bytes); none means an open network. */
  psk?: Uint8Array | null
  /** Peer IDs allowed to connect in either direction; empty means anyone (with the PSK, if set). */
  allowlist?: readonly string[]
  /** How long a dial may take (default 5000 ms). */
  dialTimeoutMs?: number
}

/** A gater that keeps every peer not on the allowlist out, inbound and outbound. */
export function allowlistGater(allowlist: readonly string[]): ConnectionGater {
  if (allowlist.length === 0) return {}
  const allowed = new Set(allowlist)
  const deny = (peer: PeerId): boolean => !allowed.has(peer.toString())
  return {
    denyDialPeer: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny,
    denyInboundUpgradedConnection: deny,
    denyOutboundUpgradedConnection: deny,
  }
}

/** Builds (but does not start) the libp2p node: tcp, noise, yamux, identify, ping, gossipsub, optional pnet. */
export async function createMeshNode(init: MeshNodeInit): Promise<MeshLibp2p> {
  installPromiseWithResolvers()
  const psk = init.psk ?? null
  return createLibp2p({
    start: false,
    privateKey: init.privateKey,
    addresses: { listen: [init.listen] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(psk === null ? {} : { connectionProtector: preSharedKey({ psk }) }),
    connectionGater: allowlistGater(init.allowlist ?? []),
    connectionManager: {
      dialTimeout: init.dialTimeoutMs ?? 5000,
      // Redial of configured peers is ours (see PeerRedialer): libp2p's queue gives up.
      reconnectRetries: 0,
    },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // Status is latest-wins and re-sent every interval; a publish with no
        // peers yet is not an error.
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        fallbackToFloodsub: false,
      }),
    },
  })
}
