import { Counter, Gauge, type Registry } from 'prom-client'
import type { MalformedKind, Mesh, NodeTransition, PendingDrop, ReceiptState, RefusalReason, StatusEvent } from '../p2p/index.js'

/** Prometheus metrics of the mesh: node states and transitions, connections, messages. */
export interface MeshMetrics {
  transition(t: NodeTransition): void
  receipt(state: ReceiptState): void
  inbound(): void
  /** Counts a refused claim or call by reason. */
  refused(reason: RefusalReason): void
  /** Refusals counted so far, by reason. */
  refusals(): Record<string, number>
  /** Counts an inbound connection refused or closed before its handshake ended. */
  inboundDropped(reason: PendingDrop): void
  /** Counts a malformed status by kind. */
  malformedStatus(kind: MalformedKind): void
  /** Counts a peer disconnected for its malformed statuses. */
  malformedDisconnect(): void
  /** Counts a rate-limited warning line left out. */
  warningSuppressed(): void
  /** Counts a stream cut off because its peer stopped reading, by protocol. */
  stalled(protocol: string): void
  /** Counts a status published or heard. */
  status(event: StatusEvent): void
}

export function createMeshMetrics(registry: Registry): MeshMetrics {
  const statuses = new Counter({
    name: 'aitbc_p2p_statuses_total',
    help: 'Statuses this node published (published), and statuses it heard: taken into the view (taken) or not (stale: not newer, or not from the peer the name is bound to)',
    labelNames: ['event'] as const,
    registers: [registry],
  })
  const transitions = new Counter({
    name: 'aitbc_node_state_transitions_total',
    help: 'Changes of a node\'s state in this daemon\'s membership view, by node and new state',
    labelNames: ['node', 'to'] as const,
    registers: [registry],
  })
  const receipts = new Counter({
    name: 'aitbc_message_receipts_total',
    help: 'Final receipts of messages this node sent, by state',
    labelNames: ['state'] as const,
    registers: [registry],
  })
  const inbound = new Counter({
    name: 'aitbc_messages_received_total',
    help: 'Messages this node received and stored (duplicates not counted)',
    registers: [registry],
  })
  const refusals = new Counter({
    name: 'aitbc_p2p_refusals_total',
    help: 'Claims and calls refused for their sender: name_taken, unknown_name, peer_has_other_name, unknown_peer, forged_from, forbidden',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const inboundDropped = new Counter({
    name: 'aitbc_p2p_inbound_dropped_total',
    help: 'Inbound connections dropped before their handshake ended: host_pending, total_pending, handshake_timeout',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const malformed = new Counter({
    name: 'aitbc_p2p_malformed_statuses_total',
    help: 'Status gossip refused as malformed, by kind: not_json, too_large, schema, foreign_peer_id',
    labelNames: ['kind'] as const,
    registers: [registry],
  })
  const malformedDisconnects = new Counter({
    name: 'aitbc_p2p_malformed_status_disconnects_total',
    help: 'Peers disconnected for sending too many malformed statuses',
    registers: [registry],
  })
  const stalled = new Counter({
    name: 'aitbc_p2p_stalled_streams_total',
    help: 'Streams cut off because the peer stopped reading while the unsent bytes passed the bound, by protocol',
    labelNames: ['protocol'] as const,
    registers: [registry],
  })
  const suppressed = new Counter({
    name: 'aitbc_p2p_warnings_suppressed_total',
    help: 'Warning lines about malformed statuses left out by the rate limit (counted in the next line)',
    registers: [registry],
  })
  const counted: Record<string, number> = {}
  return {
    transition: (t) => transitions.inc({ node: t.name, to: t.to }),
    receipt: (state) => receipts.inc({ state }),
    inbound: () => inbound.inc(),
    refused: (reason) => {
      refusals.inc({ reason })
      counted[reason] = (counted[reason] ?? 0) + 1
    },
    refusals: () => ({ ...counted }),
    inboundDropped: (reason) => inboundDropped.inc({ reason }),
    malformedStatus: (kind) => malformed.inc({ kind }),
    malformedDisconnect: () => malformedDisconnects.inc(),
    warningSuppressed: () => suppressed.inc(),
    stalled: (protocol) => stalled.inc({ protocol }),
    status: (event) => statuses.inc({ event }),
  }
}

/** Gauges read from the mesh at scrape time (registered once the mesh exists; the counters come before it). */
export function registerMeshGauges(registry: Registry, mesh: Pick<Mesh, 'connectedPeers' | 'view' | 'messenger' | 'liveness'>): void {
  new Gauge({
    name: 'aitbc_mesh_connected_peers',
    help: 'Peers with an open libp2p connection',
    registers: [registry],
    collect() {
      this.set(mesh.connectedPeers())
    },
  })
  new Gauge({
    name: 'aitbc_nodes',
    help: 'Nodes in the membership view by state (this node included)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const rows = mesh.view.snapshot()
      for (const state of ['online', 'degraded', 'offline'] as const) {
        this.set({ state }, rows.filter((r) => r.status === state).length)
      }
    },
  })
  new Gauge({
    name: 'aitbc_messages_queued',
    help: 'Message deliveries (message x target) still queued in this process',
    registers: [registry],
    collect() {
      this.set(mesh.messenger.queued)
    },
  })
  new Gauge({
    name: 'aitbc_p2p_local_health_score',
    help: 'This node\'s own health score (0 healthy, up to 8): its liveness timeouts stretch (score + 1) times, and from 4 on it accuses no peer',
    registers: [registry],
    collect() {
      this.set(mesh.liveness.health.score)
    },
  })
}
