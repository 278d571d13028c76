import { randomUUID } from 'node:crypto'
import { ApiError } from '../errors.js'
import type { RedisKeys } from '../redis-keys.js'
import { type RedisClient, withRedis } from '../registry/agent-registry.js'
import { assignTask, clearQueue, finishTask, pullTask, readyTasks, reclaimTasks, requeueTask, submitTask } from './scripts.js'
import { PRIORITIES, type Priority, type Requirements, STRATEGIES, type Strategy, type Task, taskFromHash } from './task.js'

type Scripted = RedisClient & {
  aitbcSubmitTask(...args: string[]): Promise<[number, string?, string?, string?]>
  aitbcAssignTask(...args: string[]): Promise<string>
  aitbcFinishTask(...args: string[]): Promise<string | string[]>
  aitbcPullTask(...args: string[]): Promise<string[]>
  aitbcReadyTasks(...args: string[]): Promise<string[]>
  aitbcReclaimTasks(...args: string[]): Promise<string[]>
  aitbcRequeueTask(...args: string[]): Promise<string>
  aitbcClearQueue(...args: string[]): Promise<number>
}

/** What the distributor knows of an active agent. */
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
  http: string | null
}

export interface TaskLimits {
  defaultTimeoutMs: number
  defaultMaxRetries: number
  maxQueueSize: number
  retryBackoffMs: number
  agentCapacity: number
  defaultStrategy: Strategy
}

export interface SubmitInput {
  task_data: Record<string, unknown>
  priority: Priority
  requirements: Requirements
  timeout_ms?: number
  max_retries?: number
  idempotency_key?: string
}

/** A task ready to be assigned. */
export interface ReadyTask {
  id: string
  priority: Priority
  requirements: Requirements
  submittedMs: number
}

/** What a submit answers: the new task, or the first one with the same idempotency key. */
export interface SubmitResult {
  task_id: string
  priority: Priority
  submitted_at: string
  duplicate: boolean
}

/** Outcomes of an agent's report that change nothing, as the API answers them. */
const REPORT_ERRORS: Record<string, [number, string, string]> = {
  NOT_FOUND: [404, 'TASK_NOT_FOUND', 'no such task'],
  ALREADY_COMPLETED: [409, 'TASK_ALREADY_FINISHED', 'the task is already completed; this report was not counted'],
  ALREADY_FAILED: [409, 'TASK_ALREADY_FINISHED', 'the task already failed; this report was not counted'],
  ALREADY_DEAD: [409, 'TASK_ALREADY_FINISHED', 'the task is dead-lettered; this report was not counted'],
  NOT_ASSIGNED: [409, 'TASK_NOT_ASSIGNED', 'the task is not assigned (its lease ran out and it went back to its queue)'],
  WRONG_AGENT: [409, 'TASK_WRONG_AGENT', 'the task is assigned to another agent'],
}

/** Tasks, queues, leases and dead letters in Redis; every state change is one Lua script. */
export class TaskStore {
  private readonly redis: Scripted

  constructor(redis: RedisClient, private readonly keys: RedisKeys, private readonly limits: TaskLimits) {
    for (const [name, lua, n] of [
      ['aitbcSubmitTask', submitTask, 4],
      ['aitbcAssignTask', assignTask, 6],
      ['aitbcFinishTask', finishTask, 6],
      ['aitbcPullTask', pullTask, 1],
      ['aitbcReadyTasks', readyTasks, 5],
      ['aitbcReclaimTasks', reclaimTasks, 3],
      ['aitbcRequeueTask', requeueTask, 3],
      ['aitbcClearQueue', clearQueue, 2],
    ] as const) {
      if (!(name in redis)) redis.defineCommand(name, { lua, numberOfKeys: n })
    }
    this.redis = redis as Scripted
  }

  /** Stores the task and queues it; a repeated idempotency key returns the first task instead. */
  async submit(input: SubmitInput, via: string): Promise<SubmitResult> {
    const id = randomUUID()
    const { keys } = this
    const fields = [
      'task_id', id,
      'priority', input.priority,
      'task_data', JSON.stringify(input.task_data),
      'requirements', JSON.stringify(input.requirements),
      'timeout_ms', String(input.timeout_ms ?? this.limits.defaultTimeoutMs),
      'max_retries', String(input.max_retries ?? this.limits.defaultMaxRetries),
      'submitted_via', via,
      'idempotency_key', input.idempotency_key ?? '',
    ]
    const idem = input.idempotency_key
    const [code, taskId, priority, submittedMs] = await withRedis(() => this.redis.aitbcSubmitTask(
      keys.task(id), keys.queue(input.priority), keys.idempotency(idem ?? '-'), keys.taskStats,
      id, idem === undefined ? '0' : '1', String(this.limits.maxQueueSize), ...fields,
    ))
    if (code === -1) {
      throw new ApiError(429, 'QUEUE_FULL', `the ${input.priority} queue holds ${this.limits.maxQueueSize} tasks`, 'retry later, or raise tasks.maxQueueSize')
    }
    return {
      task_id: taskId!,
      priority: priority as Priority,
      submitted_at: new Date(Number(submittedMs)).toISOString(),
      duplicate: code === 0,
    }
  }

  async get(taskId: string): Promise<Task> {
    const task = taskFromHash(await withRedis(() => this.redis.hgetall(this.keys.task(taskId))))
    if (task === null) throw new ApiError(404, 'TASK_NOT_FOUND', `task ${taskId} does not exist`, 'check the id returned by POST /tasks/submit')
    return task
  }

  /** Redis's clock (ms): queue scores and leases are on it. */
  async now(): Promise<number> {
    const [s, us] = await withRedis(() => this.redis.time())
    return Number(s) * 1000 + Math.floor(Number(us) / 1000)
  }

  /** Tasks that may be assigned now, in serving order (priority; with aging, long-waiting queues first). */
  async readyTasks(limitPerQueue: number, agingMs: number | null): Promise<ReadyTask[]> {
    const { keys } = this
    const flat = await withRedis(() => this.redis.aitbcReadyTasks(
      ...PRIORITIES.map((p) => keys.queue(p)), keys.prefix, String(limitPerQueue), String(agingMs ?? -1),
    ))
    const out: ReadyTask[] = []
    for (let i = 0; i + 3 < flat.length; i += 4) {
      out.push({
        priority: flat[i] as Priority,
        id: flat[i + 1]!,
        requirements: JSON.parse(flat[i + 2]!) as Requirements,
        submittedMs: Number(flat[i + 3]),
      })
    }
    return out
  }

  /** Ids of tasks of a priority that may be assigned now, oldest first. */
  async ready(priority: Priority, now: number, limit: number): Promise<string[]> {
    return withRedis(() => this.redis.zrangebyscore(this.keys.queue(priority), '-inf', now, 'LIMIT', 0, limit))
  }

  /** Requirements and submission time of the given tasks (absent ones skipped). */
  async requirementsOf(ids: string[]): Promise<Map<string, { requirements: Requirements, submittedMs: number }>> {
    const pipe = this.redis.pipeline()
    for (const id of ids) pipe.hmget(this.keys.task(id), 'requirements', 'submitted_ms')
    const rows = (await withRedis(() => pipe.exec())) ?? []
    const out = new Map<string, { requirements: Requirements, submittedMs: number }>()
    rows.forEach(([err, v], i) => {
      const [req, sub] = (v ?? []) as (string | null)[]
      if (err === null && req) out.set(ids[i]!, { requirements: JSON.parse(req) as Requirements, submittedMs: Number(sub) })
    })
    return out
  }

  /** Every active agent with what assignment needs to know. */
  async activeAgents(): Promise<AgentSlot[]> {
    const ids = await withRedis(() => this.redis.smembers(this.keys.activeAgents))
    if (ids.length === 0) return []
    const pipe = this.redis.pipeline()
    const fields = ['agent_type', 'capabilities', 'services', 'health_score', 'load', 'in_flight', 'metadata', 'endpoints', 'status']
    for (const id of ids) pipe.hmget(this.keys.agent(id), ...fields)
    const rows = (await withRedis(() => pipe.exec())) ?? []
    const out: AgentSlot[] = []
    rows.forEach(([err, v], i) => {
      const [type, caps, services, health, load, inFlight, metadata, endpoints, status] = (v ?? []) as (string | null)[]
      if (err !== null || status !== 'active') return
      const meta = parseObject(metadata)
      const capacity = Number(meta.capacity)
      const weight = Number(meta.weight)
      out.push({
        agent_id: ids[i]!,
        agent_type: type ?? '',
        capabilities: parseList(caps),
        services: parseList(services),
        health_score: Number(health ?? 0),
        load: Number(load ?? 0),
        in_flight: Number(inFlight ?? 0),
        capacity: Number.isInteger(capacity) && capacity > 0 ? capacity : this.limits.agentCapacity,
        weight: Number.isFinite(weight) && weight > 0 ? weight : 1,
        region: typeof meta.region === 'string' ? meta.region : null,
        http: typeof parseObject(endpoints).http === 'string' ? String(parseObject(endpoints).http) : null,
      })
    })
    return out
  }

  /** Atomically gives a queued task to an agent; OK or why not (TAKEN, AGENT_UNAVAILABLE, AGENT_FULL). */
  assign(taskId: string, priority: Priority, agent: AgentSlot): Promise<string> {
    const { keys } = this
    return withRedis(() => this.redis.aitbcAssignTask(
      keys.task(taskId), keys.queue(priority), keys.agent(agent.agent_id),
      keys.leases, keys.taskStats, keys.agentTasks(agent.agent_id),
      taskId, agent.agent_id, String(agent.capacity), agent.http === null ? '1' : '0',
    ))
  }

  /** An agent's report; throws the API error when it changes nothing. Returns OK, REQUEUED or DEAD. */
  async report(
    taskId: string,
    agentId: string,
    outcome: 'running' | 'completed' | 'failed' | 'retry',
    payload: string,
  ): Promise<string> {
    const { keys } = this
    const res = await withRedis(() => this.redis.aitbcFinishTask(
      keys.task(taskId), keys.agent(agentId), keys.leases, keys.taskStats, keys.deadTasks, keys.agentTasks(agentId),
      taskId, agentId, outcome, payload, String(this.limits.retryBackoffMs), keys.prefix,
    ))
    if (Array.isArray(res)) throw new Error('unexpected task list from a report')
    const known = REPORT_ERRORS[res]
    if (known !== undefined) throw new ApiError(known[0], known[1], `task ${taskId}: ${known[2]}`)
    return res
  }

  /** Completes a task and, in the same step, hands the agent its next assigned task (null if none). */
  async completeAndNext(taskId: string, agentId: string, result: string): Promise<Task | null> {
    const { keys } = this
    const res = await withRedis(() => this.redis.aitbcFinishTask(
      keys.task(taskId), keys.agent(agentId), keys.leases, keys.taskStats, keys.deadTasks, keys.agentTasks(agentId),
      taskId, agentId, 'completed+next', result, String(this.limits.retryBackoffMs), keys.prefix,
    ))
    if (!Array.isArray(res)) {
      const known = REPORT_ERRORS[res]
      if (known !== undefined) throw new ApiError(known[0], known[1], `task ${taskId}: ${known[2]}`)
      return null
    }
    return taskFromFlat(res)
  }

  /** Takes back tasks whose lease ran out or whose agent went stale; returns their ids. */
  reclaim(limit = 1000): Promise<string[]> {
    const { keys } = this
    return withRedis(() => this.redis.aitbcReclaimTasks(
      keys.leases, keys.taskStats, keys.deadTasks, keys.prefix, String(this.limits.retryBackoffMs), String(limit),
    ))
  }

  /** The next task assigned to a pull agent, marked running; null when there is none. */
  async nextFor(agentId: string): Promise<Task | null> {
    return taskFromFlat(await withRedis(() => this.redis.aitbcPullTask(this.keys.agentTasks(agentId), agentId, this.keys.prefix)))
  }

  async requeue(taskId: string): Promise<void> {
    const task = await this.get(taskId)
    const { keys } = this
    const res = await withRedis(() =>
      this.redis.aitbcRequeueTask(keys.task(taskId), keys.deadTasks, keys.queue(task.priority), taskId))
    if (res === 'NOT_DEAD') throw new ApiError(409, 'TASK_NOT_DEAD', `task ${taskId} is ${task.state}; only dead tasks can be requeued`)
  }

  clear(priority: Priority, who: string): Promise<number> {
    const reason = `cancelled: ${priority} queue cleared by ${who}`
    return withRedis(() => this.redis.aitbcClearQueue(this.keys.queue(priority), this.keys.taskStats, this.keys.prefix, reason))
  }

  async queueSizes(): Promise<Record<Priority, number>> {
    const pipe = this.redis.pipeline()
    for (const p of PRIORITIES) pipe.zcard(this.keys.queue(p))
    const rows = (await withRedis(() => pipe.exec())) ?? []
    return Object.fromEntries(PRIORITIES.map((p, i) => [p, Number(rows[i]?.[1] ?? 0)])) as Record<Priority, number>
  }

  async dead(limit: number): Promise<Task[]> {
    const ids = await withRedis(() => this.redis.zrevrange(this.keys.deadTasks, 0, limit - 1))
    const tasks = await Promise.all(ids.map((id) => this.get(id).catch(() => null)))
    return tasks.filter((t): t is Task => t !== null)
  }

  async counters(): Promise<Record<string, number>> {
    const raw = await withRedis(() => this.redis.hgetall(this.keys.taskStats))
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]))
  }

  async inFlight(): Promise<number> {
    return withRedis(() => this.redis.zcard(this.keys.leases))
  }

  async strategy(): Promise<Strategy> {
    const s = await withRedis(() => this.redis.get(this.keys.strategy))
    return (STRATEGIES as readonly string[]).includes(s ?? '') ? (s as Strategy) : this.limits.defaultStrategy
  }

  async setStrategy(s: Strategy): Promise<void> {
    await withRedis(() => this.redis.set(this.keys.strategy, s))
  }

  /** A counter shared by all daemons, for round robin. */
  nextTurn(): Promise<number> {
    return withRedis(() => this.redis.incr(this.keys.roundRobin))
  }
}

function taskFromFlat(flat: string[]): Task | null {
  const hash: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!
  return taskFromHash(hash)
}

function parseList(raw: string | null | undefined): string[] {
  try {
    const v = JSON.parse(raw ?? '[]') as unknown
    return Array.isArray(v) ? v.map(String) : []
  } catch {
    return []
  }
}

function parseObject(raw: string | null | undefined): Record<string, unknown> {
  try {
    const v = JSON.parse(raw ?? '{}') as unknown
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
