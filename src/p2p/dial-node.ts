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
  peerIdOf(name: string): string | null
  addressOf(name: string): string | null
}

/** Opens a protocol stream to a node by name: by its gossiped peer id first, then its configured address. */
export async function dialNode(
  node: MeshLibp2p,
  directory: PeerDirectory,
  name: string,
  protocol: string,
  signal: AbortSignal,
): Promise<Stream> {
  const candidates: (PeerId | Multiaddr)[] = []
  const peerId = directory.peerIdOf(name)
  const address = directory.addressOf(name)
  if (peerId !== null) candidates.push(peerIdFromString(peerId))
  if (address !== null) candidates.push(peerMultiaddr(address))
  let last: unknown = new Error('no peer id or address known')
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
