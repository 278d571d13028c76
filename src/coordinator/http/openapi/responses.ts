import { z } from 'zod'
import { AGENT_STATUSES, CIRCUIT_STATES } from '../../registry/agent.js'
import { PRIORITIES, STRATEGIES, TASK_STATES } from '../../tasks/task.js'

/**
 * The answers of the API as zod schemas, for the OpenAPI document and the
 * contract test. Objects are open (extra fields may come in later versions);
 * the fields listed are promised.
 */

const success = z.literal('success')
const time = z.string().describe('ISO 8601 time')
const json = z.record(z.string(), z.unknown())

/** Every error answer. */
export const errorBody = z.looseObject({
  status: z.literal('error'),
  code: z.string().describe('stable machine-readable code, e.g. AGENT_NOT_FOUND, VALIDATION_FAILED'),
  message: z.string().describe('what went wrong, naming the field'),
  detail: z.string().nullable().optional().describe('what to do about it'),
})

export const agent = z.looseObject({
  agent_id: z.string(),
  agent_type: z.string(),
  capabilities: z.array(z.string()),
  services: z.array(z.string()),
  endpoints: json,
  metadata: json,
  status: z.enum(AGENT_STATUSES),
  health_score: z.number(),
  load_metrics: json,
  load: z.number().describe('0-100, the mean of cpu and memory from the last heartbeat'),
  in_flight: z.number().describe('tasks assigned and not yet reported'),
  registered_at: time,
  last_heartbeat: time,
  updated_at: time,
  circuit: z.looseObject({
    state: z.enum(CIRCUIT_STATES).describe('closed: tasks are pushed to it; open: left out after pushes that never reached it; half_open: one push is trying it'),
    failures: z.number().describe('pushes in a row that never reached it'),
    since: time.nullable(),
    next_probe_at: time.nullable(),
    last_error: z.string().nullable(),
  }).describe('push delivery to endpoints.http (tasks.pushCircuit)'),
})

export const task = z.looseObject({
  task_id: z.string(),
  state: z.enum(TASK_STATES),
  priority: z.enum(PRIORITIES),
  task_data: json,
  requirements: json,
  timeout_ms: z.number(),
  max_retries: z.number(),
  attempts: z.number(),
  agent_id: z.string().nullable(),
  submitted_at: time,
  assigned_at: time.nullable(),
  finished_at: time.nullable(),
  lease_until: time.nullable(),
  result: z.unknown(),
  error: z.string().nullable(),
  history: z.array(z.looseObject({ at: time, event: z.string() })).describe('what happened besides state changes (failed pushes, circuits), oldest first'),
})

const receipt = z.looseObject({
  state: z.enum(['queued', 'delivered', 'duplicate', 'rejected', 'expired']),
  attempts: z.number(),
  reason: z.string().nullable(),
})

const messageRecord = z.looseObject({
  status: success,
  message_id: z.string(),
  from: z.string(),
  to: z.string(),
  targets: z.array(z.string()),
  receipts: z.record(z.string(), receipt),
  message_delivery: z.looseObject({ sent: z.number(), delivered: z.number(), failed: z.number() }),
})

const nodeStatusLine = z.looseObject({
  status: z.enum(['online', 'offline', 'degraded']),
  block_height: z.number().nullable(),
  mempool_size: z.number().nullable(),
  p2p_connections: z.number().nullable(),
  service_uptime: z.string().nullable(),
  last_sync: z.number().nullable(),
})

/** Seed 000's report, field by field. */
export const opReport = z.looseObject({
  summary: z.string(),
  operation: z.enum(['status', 'health', 'sync', 'message', 'coordinate']),
  target_node: z.string(),
  nodes_status: z.record(z.string(), nodeStatusLine),
  sync_result: z.enum(['success', 'partial', 'failed']),
  sync_details: z.looseObject({
    blockchain_synced: z.boolean(), mempool_synced: z.boolean(), configuration_synced: z.boolean(), git_synced: z.boolean(),
    kinds: z.record(z.string(), z.looseObject({ state: z.enum(['synced', 'not_synced', 'not_configured']), config_key: z.string().nullable() }))
      .optional().describe('each requested kind; not_configured names the config key to set and is left out of sync_result'),
  }),
  message_delivery: z.looseObject({ sent: z.number(), delivered: z.number(), failed: z.number() }),
  issues: z.array(z.looseObject({ node: z.string(), step: z.string(), error: z.string(), suggestion: z.string() })),
  recommendations: z.array(z.string()),
  confidence: z.number(),
  execution_time: z.number(),
  validation_status: z.enum(['success', 'partial', 'failed']),
})

const nodeRow = nodeStatusLine.extend({
  peer_id: z.string().nullable(),
  identity: z.enum(['configured', 'pinned']).nullable(),
  identity_conflict: z.string().nullable(),
  address: z.string().nullable(),
  links: z.array(z.string()).nullable().describe('members the node is connected to, as it last said'),
  last_seen_ms: z.number().nullable(),
  reason: z.string().nullable(),
  registry_mismatch: z.string().nullable(),
  self: z.boolean(),
})

const queueSizes = z.record(z.string(), z.number())

/** One task's outcome in POST /tasks/submit-batch, in the order sent. */
const batchItem = z.union([
  z.looseObject({ task_id: z.string(), priority: z.enum(PRIORITIES), submitted_at: time, duplicate: z.boolean() }),
  z.looseObject({ error: z.looseObject({ code: z.string(), message: z.string() }) }),
])
const batchCounts = {
  submitted: z.number().describe('stored now'),
  duplicates: z.number().describe('found by their idempotency key'),
  refused: z.number().describe('refused by the queue bound (tasks.maxQueueSize)'),
}

/** Each route's answers by status code (errors use errorBody). */
export const responses = {
  register: z.looseObject({
    status: success, message: z.string(), agent_id: z.string(), registered_at: time, stale_after_ms: z.number().optional(),
  }),
  discover: z.looseObject({ status: success, query: json, agents: z.array(agent), count: z.number(), timestamp: time }),
  agent: z.looseObject({ status: success, agent }),
  agentRemoved: z.looseObject({ status: success, message: z.string(), agent_id: z.string() }),
  heartbeat: z.looseObject({ status: success, agent_id: z.string(), agent_status: z.enum(AGENT_STATUSES), timestamp: time }),
  agentStatus: z.looseObject({ status: success, agent_id: z.string(), agent_status: z.enum(AGENT_STATUSES) }),
  submitted: z.looseObject({
    status: success, message: z.string(), task_id: z.string(), priority: z.enum(PRIORITIES), submitted_at: time,
    duplicate: z.boolean(),
  }),
  submittedBatch: z.looseObject({ status: success, message: z.string(), ...batchCounts, tasks: z.array(batchItem) }),
  batchRefused: errorBody.extend({ ...batchCounts, tasks: z.array(batchItem) }),
  task: z.looseObject({ status: success, task }),
  nextTask: z.looseObject({ status: success, task }),
  taskReported: z.looseObject({
    status: success, task_id: z.string(), task_state: z.enum(TASK_STATES), next_task: task.nullable().optional(),
  }),
  requeued: z.looseObject({ status: success, task_id: z.string(), message: z.string() }),
  taskStatus: z.looseObject({
    status: success,
    stats: z.looseObject({
      tasks_distributed: z.number(),
      tasks_completed: z.number(),
      tasks_failed: z.number(),
      avg_distribution_time: z.number(),
      load_balancer_stats: z.looseObject({
        strategy: z.enum(STRATEGIES), active_agents: z.number(), total_assignments: z.number(), avg_agent_load: z.number(),
      }),
      queue_sizes: queueSizes,
    }),
  }),
  queues: z.looseObject({ status: success, queue_sizes: queueSizes }),
  queueStats: z.looseObject({
    status: success, queue_sizes: queueSizes, total_queued: z.number(), stats: json,
    dead_letters: z.looseObject({ count: z.number(), tasks: z.array(task) }),
  }),
  queueCleared: z.looseObject({ status: success, priority: z.enum(PRIORITIES), cleared: z.number(), message: z.string() }),
  deadTasks: z.looseObject({ status: success, tasks: z.array(json), count: z.number(), total: z.number() }),
  strategy: z.looseObject({ status: success, strategy: z.enum(STRATEGIES) }),
  messageSent: messageRecord,
  message: messageRecord,
  inbox: z.looseObject({ status: success, node: z.string(), messages: z.array(json), count: z.number() }),
  opReport: opReport.extend({ op_id: z.string() }),
  opAccepted: z.looseObject({ status: success, op_id: z.string(), events: z.string() }),
  journal: z.looseObject({
    status: success,
    operations: z.array(z.looseObject({
      op_id: z.string(), operation: z.enum(['status', 'health', 'sync', 'message', 'coordinate']), target_node: z.string(), node: z.string(),
      state: z.enum(['queued', 'running', 'done', 'interrupted']), created_at: time, created_ms: z.number(), finished_at: time.nullable(),
      validation_status: z.enum(['success', 'partial', 'failed']).nullable(), summary: z.string().nullable(), issues: z.number().nullable(),
    })),
    count: z.number(),
    next_before: z.number().nullable().describe('pass as before= for the next page; null on the last'),
  }),
  opRecord: z.looseObject({ status: success, operation: z.looseObject({ op_id: z.string(), node: z.string(), state: z.enum(['queued', 'running', 'done', 'interrupted']) }) }),
  nodes: z.looseObject({
    status: success,
    nodes_status: z.record(z.string(), nodeRow),
    summary: z.looseObject({ total: z.number(), online: z.number(), degraded: z.number(), offline: z.number() }),
    registry_mismatches: z.array(z.string()),
    identity_conflicts: z.array(z.string()),
    refusals: z.record(z.string(), z.number()),
  }),
  nodeForgotten: z.looseObject({ status: success, node: z.string(), forgotten: z.boolean(), message: z.string() }),
  health: z.looseObject({
    status: z.enum(['healthy', 'degraded', 'unhealthy']), node: z.string(), version: z.string(), timestamp: time, checks: json, warnings: z.array(z.string()),
  }),
} as const
