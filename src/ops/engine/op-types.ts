import { z } from 'zod'

export const OPERATIONS = ['status', 'health', 'sync', 'message', 'coordinate'] as const
export type Operation = (typeof OPERATIONS)[number]

/** An operation id as the engine makes them (randomUUID) and the journal keys them; anything else is no operation. */
export const opIdSchema = z.uuid('expected an operation id (UUID)')

/** Seed 000's input; timeout is in seconds as the seed has it. */
export function opRequestSchema(maxTimeoutS: number) {
  return z.strictObject({
    operation: z.enum(OPERATIONS, `expected one of ${OPERATIONS.join(', ')}`),
    target_node: z.string().min(1).max(63).default('all'),
    message: z.string().max(64 * 1024).optional(),
    sync_type: z.enum(['blockchain', 'mempool', 'configuration', 'git', 'all']).optional(),
    action: z.string().max(100).optional(),
    timeout: z.number().positive().max(maxTimeoutS, `expected at most ${maxTimeoutS} seconds (seed 000: max 120 s for complex operations)`).optional(),
    force: z.boolean().default(false),
    verify: z.boolean().default(true),
  })
}
export type OpRequest = z.infer<ReturnType<typeof opRequestSchema>>

export const SYNC_KINDS = ['git', 'blockchain', 'mempool', 'configuration'] as const
export type SyncKind = (typeof SYNC_KINDS)[number]
/** not_configured: no target has the kind's config key set, a fact about the config, not a failed sync. */
export type SyncKindState = 'synced' | 'not_synced' | 'not_configured'

/** One node's line of nodes_status (seed 000). */
export interface NodeStatusLine {
  status: 'online' | 'offline' | 'degraded'
  block_height: number | null
  mempool_size: number | null
  p2p_connections: number | null
  service_uptime: string | null
  last_sync: number | null
}

/** A failure as seed 000 wants it: node, step, error, suggestion. */
export interface OpIssue {
  node: string
  step: string
  error: string
  suggestion: string
}

/** Seed 000's report, field by field. */
export interface OpReport {
  summary: string
  operation: Operation
  target_node: string
  nodes_status: Record<string, NodeStatusLine>
  sync_result: 'success' | 'partial' | 'failed'
  sync_details: {
    blockchain_synced: boolean
    mempool_synced: boolean
    configuration_synced: boolean
    git_synced: boolean
    /** Each requested kind's state; a kind no target is configured for names the key to set. */
    kinds?: Partial<Record<SyncKind, { state: SyncKindState, config_key: string | null }>>
  }
  message_delivery: { sent: number, delivered: number, failed: number }
  issues: OpIssue[]
  recommendations: string[]
  confidence: number
  execution_time: number
  validation_status: 'success' | 'partial' | 'failed'
  /** Per-node findings beyond seed 000's fields: health checks (health), action output (coordinate). */
  details?: Record<string, Record<string, unknown>>
}

/** A changing action as the journal keeps it. */
export interface ActionRecord {
  at: string
  /** The node that served it. */
  node: string
  action: string
  caller: string
  peer_id: string
  op_id: string
  outcome: 'ok' | 'failed' | 'refused'
  detail: string
}

/** An operation as the journal keeps it. */
export interface OpRecord {
  op_id: string
  node: string
  state: 'queued' | 'running' | 'done' | 'interrupted'
  request: OpRequest
  created_at: string
  /** ms since the epoch by which the operation answers, counted from its submission. */
  deadline_at: number
  finished_at: string | null
  report: OpReport | null
  events: OpEvent[]
  /** Changing node actions served for it, as each serving node journalled them. */
  actions?: ActionRecord[]
}

/** A progress event (also sent as SSE). */
export interface OpEvent {
  at: string
  node: string | null
  step: string
  detail: string
}
