import { z } from 'zod'

/** The largest status taken (gossipsub's IDONTWANT is off below it, see createMeshNode). */
export const MAX_STATUS_BYTES = 16 * 1024

/** Status gossip topic; the suffix is the wire version. */
export const STATUS_TOPIC = 'aitbc/status/1'

const chainStatus = z.strictObject({
  height: z.number().int().min(0),
  hash: z.string().max(200).nullable(),
  mempool_size: z.number().int().min(0).nullable(),
})

/** Where a node's Redis registry is; never carries a password. */
export const registryFingerprint = z.strictObject({
  /** Random id stored in that Redis (null while Redis is unreachable). */
  cluster_id: z.string().max(100).nullable(),
  host: z.string().max(300),
  db: z.number().int().min(0),
  prefix: z.string().max(64),
})

/** One node's status as gossiped every status interval (docs/mesh.md). */
export const nodeStatus = z.strictObject({
  name: z.string().min(1).max(63),
  peer_id: z.string().min(1).max(200),
  /** Increases with every publish of one process; restarts begin again from a new started_at. */
  seq: z.number().int().min(0),
  /** Sender's clock, ms since the epoch (informative only; ages use the receiver's clock). */
  time: z.number().int(),
  started_at: z.number().int(),
  uptime_s: z.number().min(0),
  chain: chainStatus.nullable(),
  /** Unix seconds of the last successful chain RPC read, or null. */
  last_sync: z.number().int().nullable(),
  p2p_connections: z.number().int().min(0),
  /** Names of the members this node holds a connection to, sorted: the dashboard's mesh picture. */
  links: z.array(z.string().min(1).max(63)).max(256).default([]),
  /**
   * Members this node itself found gone (its connection closed and could not be
   * re-made, or a confirmed suspicion), each with the last status it had of them:
   * nodes not connected to them take them offline at once instead of waiting out offlineAfterMs.
   */
  lost: z.array(z.strictObject({
    name: z.string().min(1).max(63),
    started_at: z.number().int(),
    seq: z.number().int().min(0),
  })).max(256).default([]),
  version: z.string().max(50),
  git_head: z.string().max(100).nullable(),
  registry: registryFingerprint,
  running_ops: z.number().int().min(0),
  coordinator_url: z.string().max(300).nullable(),
  addresses: z.array(z.string().max(300)).max(20),
  /** The node's own verdict: degraded when one of its checks fails, with the reasons. */
  health: z.enum(['ok', 'degraded']),
  problems: z.array(z.string().max(500)).max(20),
})

export type NodeStatus = z.infer<typeof nodeStatus>
export type RegistryFingerprint = z.infer<typeof registryFingerprint>
export type ChainStatus = z.infer<typeof chainStatus>

/** What the local daemon fills into its status each interval; the p2p layer adds the rest. */
export type LocalStatus = Pick<
  NodeStatus,
  'chain' | 'last_sync' | 'git_head' | 'registry' | 'running_ops' | 'coordinator_url' | 'problems'
>

/** Renders seconds the way seed 000 shows service_uptime ("5d 12h 34m"). */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (d > 0) return `${d}d ${h}h ${m}m`
  if (h > 0) return `${h}h ${m}m`
  if (m > 0) return `${m}m ${s % 60}s`
  return `${s % 60}s`
}
