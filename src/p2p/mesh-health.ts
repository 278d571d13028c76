import type { Mesh } from './mesh.js'

/** The mesh's part of GET /health. */
export type MeshHealth = {
  /** False when a peer is not online or the registry is not shared. */
  ok: boolean
  warnings: string[]
  peer_id: string
  connected_peers: number
  nodes: number
  online: number
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
