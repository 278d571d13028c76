import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import { P2pError } from './errors.js'
import type { MeshLibp2p } from './mesh-node.js'
import { peerMultiaddr } from './peer-address.js'

/** How p2p parts find nodes by name (the membership view is one). */
export interface PeerDirectory {
  /** Every other node, configured or heard. */
  peerNames(): string[]
  /** Whether the name is this node or a known other node. */
  has(name: string): boolean
  /** The peer id bound to the name: the only one a stream to it may reach. */
  peerIdOf(name: string): string | null
  addressOf(name: string): string | null
  /** The bound name of a peer id, or null for a peer that is not a cluster member. */
  nameOf(peerId: string): string | null
}

/**
 * Opens a protocol stream to a node by name, only ever to its bound peer id:
 * by the id (an open connection), then by its configured address with the id
 * appended, so the handshake fails if anyone else answers there.
 */
export async function dialNode(
  node: MeshLibp2p,
  directory: PeerDirectory,
  name: string,
  protocol: string,
  signal: AbortSignal,
): Promise<Stream> {
  const peerId = directory.peerIdOf(name)
  if (peerId === null) {
    throw new P2pError('ERR_PEER_UNREACHABLE', `node ${name} has no bound peer id yet (it is pinned from its first status, or set p2p.peers[].peerId)`)
  }
  const candidates: (PeerId | Multiaddr)[] = [peerIdFromString(peerId)]
  const address = directory.addressOf(name)
  if (address !== null) candidates.push(peerMultiaddr(address).encapsulate(`/p2p/${peerId}`))
  let last: unknown = new Error('no address known')
  for (const c of candidates) {
    try {
      return await node.dialProtocol(c, protocol, { signal })
    } catch (err) {
      last = err
      if (signal.aborted) break
    }
  }
  throw new P2pError('ERR_PEER_UNREACHABLE', `node ${name} is unreachable: ${(last as Error).message}`, { cause: last })
}
