import type { Mesh } from './mesh.js'

/** The mesh's part of GET /health. */
export type MeshHealth = {
  /** False when a peer is not online or the registry is not shared. */
  ok: boolean
  /** Registry mismatches, then every peer that is not online, with its reason. */
  warnings: string[]
  /** This node's libp2p peer id. */
  peer_id: string
  /** Distinct peers with an open connection. */
  connected_peers: number
  /** Nodes in the membership view, this one included. */
  nodes: number
  /** Of those, the ones online. */
  online: number
  /** Peers on another Redis registry, and this node's name pinned elsewhere. */
  registry_mismatches: string[]
}

/** Reads the mesh's health now; a peer that is not online is a warning (the API still answers: 200, "degraded"). */
export function meshHealth(mesh: Pick<Mesh, 'problems' | 'view' | 'peerId' | 'connectedPeers'>): MeshHealth {
  const mismatches = mesh.problems()
  const rows = mesh.view.snapshot()
  const peers = rows
    .filter((r) => !r.self && r.status !== 'online')
    .map((r) => `node ${r.name} is ${r.status}${r.reason === null ? '' : ` (${r.reason})`}`)
  return {
    ok: mismatches.length === 0 && peers.length === 0,
    warnings: [...mismatches, ...peers],
    peer_id: mesh.peerId,
    connected_peers: mesh.connectedPeers(),
    nodes: rows.length,
    online: rows.filter((r) => r.status === 'online').length,
    registry_mismatches: mismatches,
  }
}
