import { z } from 'zod'

export const AGENT_STATUSES = ['active', 'inactive', 'busy', 'maintenance', 'error', 'stale'] as const
/** Lifecycle state of an agent; `stale` is set only by the coordinator's sweep. */
export type AgentStatus = (typeof AGENT_STATUSES)[number]
/** Statuses an agent or operator may set; `stale` belongs to the sweep. */
export const SETTABLE_STATUSES = ['active', 'inactive', 'busy', 'maintenance', 'error'] as const

// No ':' in ids: every Redis key is built as family:id[:suffix], so an id with ':' could form another
// agent's key (registering "kc:tasks" would write agent kc's pull list).
const idPattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/
const idMessage = 'expected 1-128 characters: letters, digits and . _ @ - (starting with a letter or digit)'
export const agentId = z.string().regex(idPattern, idMessage)

const name = z.string().min(1, 'expected a non-empty string').max(128, 'expected at most 128 characters')
const jsonObject = z.record(z.string().max(128), z.unknown())
const stringOrList = z.union([name, z.array(name).max(64)]).transform((v) =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : v,
)

/** Load metrics an agent reports; percentages 0-100, extra numeric fields kept. */
export const loadMetrics = z
  .object({
    cpu_usage: z.number().min(0).max(100).optional(),
    memory_usage: z.number().min(0).max(100).optional(),
    active_tasks: z.number().int().min(0).optional(),
  })
  .catchall(z.union([z.number(), z.string().max(256), z.boolean(), z.null()]))

export const registerBody = z.strictObject({
  agent_id: agentId,
  agent_type: name,
  capabilities: z.array(name).max(64).default([]),
  services: z.array(name).max(64).default([]),
  endpoints: z.record(z.string().max(64), z.string().max(2048)).default({}),
  metadata: jsonObject.default({}),
  chain_id: z.string().max(128).nullish(),
  island_id: z.string().max(128).nullish(),
  status: z.enum(SETTABLE_STATUSES).optional(),
  load_metrics: loadMetrics.optional(),
})
export type RegisterInput = z.infer<typeof registerBody>

export const discoverBody = z.strictObject({
  status: z.enum(AGENT_STATUSES).optional(),
  agent_type: name.optional(),
  capabilities: stringOrList.optional(),
  services: stringOrList.optional(),
  min_health_score: z.number().min(0).max(1).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
})
export type DiscoverQuery = z.infer<typeof discoverBody>

export const heartbeatBody = z.strictObject({ load_metrics: loadMetrics.optional() }).default({})

export const statusBody = z.strictObject({
  status: z.enum(SETTABLE_STATUSES),
  load_metrics: loadMetrics.optional(),
})

/** An agent as the API returns it. */
export interface Agent {
  agent_id: string
  agent_type: string
  capabilities: string[]
  services: string[]
  endpoints: Record<string, string>
  metadata: Record<string, unknown>
  chain_id: string | null
  island_id: string | null
  status: AgentStatus
  health_score: number
  load_metrics: Record<string, unknown>
  /** Load 0-100 from the last heartbeat or status update (the mean of cpu and memory). */
  load: number
  /** Tasks assigned to it and not yet reported. */
  in_flight: number
  registered_at: string
  last_heartbeat: string
  updated_at: string
  /** Push delivery to endpoints.http (always closed for a pull agent); see PushCircuit. */
  circuit: PushCircuit
}

export const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const
/** closed: pushed to; open: left out after pushes that never reached it; half_open: one push is trying it. */
export type CircuitState = (typeof CIRCUIT_STATES)[number]

/** An agent's push circuit as the API shows it. */
export interface PushCircuit {
  state: CircuitState
  /** Pushes in a row that never reached the agent (reset by any answer). */
  failures: number
  /** When the circuit opened; null while closed. */
  since: string | null
  /** When a push may try the agent again; null while closed. */
  next_probe_at: string | null
  /** Why the last push failed to reach it. */
  last_error: string | null
}

/** The circuit fields of an agent hash (written by the push scripts, store/lua/tasks/push-*.lua). */
export function circuitFromHash(h: Record<string, string>): PushCircuit {
  const state = (CIRCUIT_STATES as readonly string[]).includes(h.circuit ?? '') ? (h.circuit as CircuitState) : 'closed'
  const iso = (ms: string | undefined): string | null => (state === 'closed' || !ms ? null : new Date(Number(ms)).toISOString())
  return {
    state,
    failures: Number(h.push_failures ?? 0) || 0,
    since: iso(h.circuit_since),
    next_probe_at: iso(h.circuit_probe_at),
    last_error: h.push_error || null,
  }
}

/** Mean of cpu and memory percentages, the figure the health score is taken from. */
export function loadOf(metrics: z.infer<typeof loadMetrics> | undefined): number {
  const parts = [metrics?.cpu_usage, metrics?.memory_usage].filter((v): v is number => typeof v === 'number')
  return parts.length === 0 ? 0 : parts.reduce((a, b) => a + b, 0) / parts.length
}

function parseJson<T>(raw: string | undefined, fallback: T): T {
  if (raw === undefined || raw === '') return fallback
  try {
    return JSON.parse(raw) as T
  } catch {
    return fallback
  }
}

/** Turns an `agent:{id}` hash back into an Agent; null when the hash is empty. */
export function agentFromHash(h: Record<string, string>): Agent | null {
  if (h.agent_id === undefined) return null
  return {
    agent_id: h.agent_id,
    agent_type: h.agent_type ?? '',
    capabilities: parseJson(h.capabilities, []),
    services: parseJson(h.services, []),
    endpoints: parseJson(h.endpoints, {}),
    metadata: parseJson(h.metadata, {}),
    chain_id: h.chain_id ? h.chain_id : null,
    island_id: h.island_id ? h.island_id : null,
    status: (AGENT_STATUSES as readonly string[]).includes(h.status ?? '')
      ? (h.status as AgentStatus)
      : 'error',
    health_score: Number(h.health_score ?? 0),
    load_metrics: parseJson(h.load_metrics, {}),
    load: Number(h.load ?? 0) || 0,
    in_flight: Number(h.in_flight ?? 0) || 0,
    registered_at: h.registered_at ?? '',
    last_heartbeat: h.last_heartbeat ?? '',
    updated_at: h.updated_at ?? '',
    circuit: circuitFromHash(h),
  }
}

/** metadata.capacity when it is a positive whole number: how many tasks the agent holds at once; null: the default. */
export function capacityOf(metadata: Record<string, unknown>): number | null {
  const n = Number(metadata.capacity)
  return Number.isInteger(n) && n > 0 ? n : null
}

/** metadata.weight for weighted round robin (default 1). */
export function weightOf(metadata: Record<string, unknown>): number {
  const n = Number(metadata.weight)
  return Number.isFinite(n) && n > 0 ? n : 1
}

/** metadata.region for the geographic strategy. */
export function regionOf(metadata: Record<string, unknown>): string | null {
  return typeof metadata.region === 'string' ? metadata.region : null
}

/** endpoints.http: where tasks are pushed; null for an agent that long-polls. */
export function pushUrlOf(endpoints: Record<string, unknown>): string | null {
  return typeof endpoints.http === 'string' && endpoints.http !== '' ? endpoints.http : null
}

/** What a distributor knows of an active agent. */
export interface AgentSlot {
  agent_id: string
  agent_type: string
  capabilities: string[]
  services: string[]
  health_score: number
  /** Load 0-100 from its last heartbeat or status update. */
  load: number
  in_flight: number
  capacity: number
  weight: number
  region: string | null
  /** Where tasks are pushed; null for a pull agent. */
  http: string | null
  /** Its push circuit: an open one takes no task before probeAtMs. */
  circuit: CircuitState
  /** When an open circuit lets one push try the agent (ms since the epoch). */
  probeAtMs: number
  /** Pushes in a row that never reached it. */
  pushFailures: number
}

/** An agent hash read through the registry's parser, with the counters assignment keeps beside it. */
export function slotFromHash(h: Record<string, string>, defaultCapacity: number): AgentSlot | null {
  const agent = agentFromHash(h)
  if (agent === null) return null
  return {
    agent_id: agent.agent_id,
    agent_type: agent.agent_type,
    capabilities: agent.capabilities,
    services: agent.services,
    health_score: agent.health_score,
    load: Number(h.load ?? 0) || 0,
    in_flight: Number(h.in_flight ?? 0) || 0,
    capacity: capacityOf(agent.metadata) ?? defaultCapacity,
    weight: weightOf(agent.metadata),
    region: regionOf(agent.metadata),
    http: pushUrlOf(agent.endpoints),
    circuit: agent.circuit.state,
    probeAtMs: Number(h.circuit_probe_at ?? 0) || 0,
    pushFailures: agent.circuit.failures,
  }
}
