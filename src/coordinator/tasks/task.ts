import { z } from 'zod'
import { jsonValue } from '../json-value.js'

/** Priorities, highest first; queues are served in this order. */
export const PRIORITIES = ['urgent', 'critical', 'high', 'normal', 'low'] as const
export type Priority = (typeof PRIORITIES)[number]

export const TASK_STATES = ['queued', 'assigned', 'running', 'completed', 'failed', 'dead'] as const
export type TaskState = (typeof TASK_STATES)[number]

export const STRATEGIES = [
  'least_connections', 'round_robin', 'weighted_round_robin', 'resource_based', 'geographic', 'random',
] as const
export type Strategy = (typeof STRATEGIES)[number]

const list = z.union([z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)), z.array(z.string().max(200))])

export const requirementsSchema = z.strictObject({
  agent_type: z.string().max(100).optional(),
  capabilities: list.optional(),
  services: list.optional(),
  min_health_score: z.number().min(0).max(1).optional(),
  region: z.string().max(100).optional(),
})
export type Requirements = z.infer<typeof requirementsSchema>

/** POST /tasks/submit; limits come from configuration. */
export function submitSchema(limits: { maxTimeoutMs: number }) {
  return z.strictObject({
    task_data: z.record(z.string(), jsonValue, 'expected an object'),
    priority: z
      .string()
      .transform((p) => p.toLowerCase())
      .pipe(z.enum(PRIORITIES, `expected one of ${PRIORITIES.join(', ')}`))
      .default('normal'),
    requirements: requirementsSchema.default({}),
    timeout_ms: z.number().int().min(100).max(limits.maxTimeoutMs, `expected at most ${limits.maxTimeoutMs} ms`).optional(),
    max_retries: z.number().int().min(0).max(100).optional(),
    idempotency_key: z.string().min(1).max(200).optional(),
  })
}

/** Most tasks one POST /tasks/submit-batch takes. */
export const MAX_SUBMIT_BATCH = 1000

/** POST /tasks/submit-batch: tasks as /tasks/submit takes them, stored in order. */
export function submitBatchSchema(limits: { maxTimeoutMs: number }) {
  return z.strictObject({
    tasks: z.array(submitSchema(limits)).min(1, 'expected at least one task').max(MAX_SUBMIT_BATCH, `expected at most ${MAX_SUBMIT_BATCH} tasks`),
  })
}

export const completeSchema = z.strictObject({
  agent_id: z.string().min(1).max(128),
  result: jsonValue.optional(),
})

export const failSchema = z.strictObject({
  agent_id: z.string().min(1).max(128),
  error: z.string().min(1, 'expected what went wrong').max(10_000),
  retryable: z.boolean().default(true),
})

/** A task as GET /tasks/:id shows it. */
export interface Task {
  task_id: string
  state: TaskState
  priority: Priority
  task_data: Record<string, unknown>
  requirements: Requirements
  timeout_ms: number
  max_retries: number
  attempts: number
  agent_id: string | null
  submitted_at: string
  assigned_at: string | null
  finished_at: string | null
  lease_until: string | null
  result: unknown
  error: string | null
  submitted_via: string
  /** What happened besides its state changes (pushes that failed, circuits), oldest first; the newest 20 kept. */
  history: TaskHistoryEntry[]
}

/** One line of a task's history. */
export interface TaskHistoryEntry {
  at: string
  event: string
}

function historyOf(raw: string | undefined): TaskHistoryEntry[] {
  const list = raw === undefined || raw === '' ? [] : JSON.parse(raw) as unknown
  if (!Array.isArray(list)) return []
  return list.map((e: { at?: unknown, event?: unknown }) => ({
    at: new Date(Number(e.at)).toISOString(),
    event: String(e.event),
  }))
}

const iso = (ms: string | undefined): string | null => (ms === undefined || ms === '' ? null : new Date(Number(ms)).toISOString())
const json = (raw: string | undefined): unknown => (raw === undefined || raw === '' ? null : JSON.parse(raw))

export function taskFromHash(h: Record<string, string>): Task | null {
  if (h.task_id === undefined) return null
  return {
    task_id: h.task_id,
    state: h.state as TaskState,
    priority: h.priority as Priority,
    task_data: json(h.task_data) as Record<string, unknown>,
    requirements: json(h.requirements) as Requirements,
    timeout_ms: Number(h.timeout_ms),
    max_retries: Number(h.max_retries),
    attempts: Number(h.attempts ?? 0),
    agent_id: h.agent_id || null,
    submitted_at: iso(h.submitted_ms)!,
    assigned_at: iso(h.assigned_ms),
    finished_at: iso(h.finished_ms),
    lease_until: h.state === 'assigned' || h.state === 'running' ? iso(h.lease_until) : null,
    result: json(h.result),
    error: h.error || null,
    submitted_via: h.submitted_via ?? '',
    history: historyOf(h.history),
  }
}
