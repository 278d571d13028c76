import type { RedisKeys } from './redis-keys.js'
import type { AgentSlot } from '../registry/agent.js'
import { type RedisClient, withRedis } from './redis-client.js'
import { PushCircuits } from './push-circuits.js'
import { requirementClassOf } from '../tasks/requirement-class.js'
import { TaskError } from '../tasks/task-errors.js'
import { ScriptLibrary } from './script-loader.js'
import { newTaskId, taskIdTime } from '../tasks/task-ids.js'
import { PRIORITIES, type Priority, type Requirements, type Strategy, type Task, taskFromHash } from '../tasks/task.js'

/** How long, and how many, finished tasks are kept (like BullMQ's removeOnComplete / removeOnFail). */
export interface Keep {
  /** A finished task's record expires this long after it finished. */
  ageMs: number
  /** At most this many are kept; the oldest go first. */
  count: number
}

export interface Retention {
  completed: Keep
  failed: Keep
  /** Dead letters: kept this long and this many, then deleted (counted in `expired`). */
  dead: Keep
}

export interface TaskLimits {
  defaultTimeoutMs: number
  defaultMaxRetries: number
  /** Per priority and requirement class. */
  maxQueueSize: number
  retryBackoffMs: number
  agentCapacity: number
  defaultStrategy: Strategy
  /** A queue whose oldest ready task waited this long is served before higher priorities (null: strict priority). */
  agingMs: number | null
  retention: Retention
}

export interface SubmitInput {
  task_data: Record<string, unknown>
  priority: Priority
  requirements: Requirements
  timeout_ms?: number
  max_retries?: number
  idempotency_key?: string
}

/** What a submit answers: the new task, or the first one with the same idempotency key. */
export interface SubmitResult {
  task_id: string
  priority: Priority
  submitted_at: string
  duplicate: boolean
}

/** A task ready to be assigned. */
export interface ReadyTask {
  id: string
  priority: Priority
  requirements: Requirements
  submittedMs: number
  /** Agents a push of it failed to reach: others are tried first. */
  avoid: string[]
}

/** Why a pull agent got no task: not active, tasks come from a distributor, at capacity, or nothing it can take. */
export type IdleReason = 'inactive' | 'strategy' | 'full' | 'empty'

/** A pull agent's next task, or why there is none and which requirement classes it can and cannot take. */
export type NextResult =
  | { task: Task }
  | { task: null, why: IdleReason, inFlight: number, can: string[], cannot: string[] }

/** How long a pull agent will wait when it finds nothing, and the daemon instance holding its poll. */
export interface Wait {
  ms: number
  instance: string
}

/** An agent's report that changed the task. */
export type ReportOutcome = 'OK' | 'REQUEUED' | 'DEAD'
/** A distributor's claim: taken, or why not. */
export type AssignOutcome = 'OK' | 'TAKEN' | 'AGENT_UNAVAILABLE' | 'AGENT_FULL'

/** The task scripts, lua/tasks/*.lua: one library for the repository and its push circuits. */
const SCRIPTS = {
  submit: 'tasks/submit',
  next: 'tasks/next',
  assign: 'tasks/assign',
  finish: 'tasks/finish',
  reclaim: 'tasks/reclaim',
  requeue: 'tasks/requeue',
  clear: 'tasks/clear',
  ready: 'tasks/ready',
  sizes: 'tasks/sizes',
  handBack: 'tasks/hand-back',
  unreached: 'tasks/push-unreached',
  reached: 'tasks/push-reached',
} as const
type ScriptName = keyof typeof SCRIPTS

/** Outcomes of a report that change nothing. */
const REPORT_ERRORS: Record<string, [TaskError['code'], string]> = {
  NOT_FOUND: ['TASK_NOT_FOUND', 'no such task'],
  ALREADY_COMPLETED: ['TASK_ALREADY_FINISHED', 'the task is already completed; this report was not counted'],
  ALREADY_FAILED: ['TASK_ALREADY_FINISHED', 'the task already failed; this report was not counted'],
  ALREADY_DEAD: ['TASK_ALREADY_FINISHED', 'the task is dead-lettered; this report was not counted'],
  NOT_ASSIGNED: ['TASK_NOT_ASSIGNED', 'the task is not assigned (its lease ran out and it went back to its queue)'],
  WRONG_AGENT: ['TASK_WRONG_AGENT', 'the task is assigned to another agent'],
}

/**
 * Task records, queues, leases, retention and dead letters in Redis. Every
 * state change is one Lua script (lua/tasks), atomic and taking "now" from
 * Redis TIME, so any number of daemons on one Redis never assign a task twice
 * and agree on lease ends whatever their clocks say. Every key comes from
 * redis-keys.ts (layoutJson); this daemon's settings go with each call.
 */
export class TaskRepository {
  private readonly redis: RedisClient
  private readonly scripts: ScriptLibrary<ScriptName>
  /** ARGV[1] of every call: this daemon's settings (lua/tasks/includes/layout.lua). */
  private readonly settings: string
  /** Push agents' circuits (tasks whose push never reached the agent go back through it). */
  readonly push: PushCircuits

  constructor(redis: RedisClient, private readonly keys: RedisKeys, private readonly limits: TaskLimits) {
    this.redis = redis
    this.scripts = new ScriptLibrary(redis, { name: 'aitbc_tasks', scripts: SCRIPTS, values: { layout: layoutJson(keys) } })
    this.settings = settingsArg(limits)
    this.push = new PushCircuits(redis, keys, (name, keys, args) => this.scripts.call(name, keys, [this.settings, ...args]))
  }

  /** Runs a script; the leases key goes first (a Cluster routes the call by it), then the script's own keys. */
  private run<T>(name: ScriptName, keys: string[], args: string[]): Promise<T> {
    return withRedis(() => this.scripts.call(name, [this.keys.leases, ...keys], [this.settings, ...args]) as Promise<T>)
  }

  /** Stores the task and queues it; a repeated idempotency key returns the first task instead. */
  async submit(input: SubmitInput, via: string): Promise<SubmitResult> {
    const id = newTaskId()
    const cls = requirementClassOf(input.requirements)
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
    const [code, taskId, priority, submittedMs] = await this.run<[number, string?, string?, string?]>(
      'submit',
      [this.keys.task(id), this.keys.idempotency(idem ?? '-')],
      [id, idem === undefined ? '0' : '1', String(this.limits.maxQueueSize), input.priority, cls.id, cls.json, ...fields],
    )
    if (code === -1) {
      throw new TaskError('QUEUE_FULL', `the ${input.priority} queue holds ${this.limits.maxQueueSize} tasks`, 'retry later, or raise tasks.maxQueueSize')
    }
    // A repeated key whose first task is no longer kept still names it; its time is in its id.
    const ms = Number(submittedMs) || taskIdTime(taskId!) || Date.now()
    return {
      task_id: taskId!,
      priority: (priority || input.priority) as Priority,
      submitted_at: new Date(ms).toISOString(),
      duplicate: code === 0,
    }
  }

  /**
   * Stores several tasks, in order (each as submit() does, the calls going to Redis in one write).
   * A task the queue bound refuses comes back as its TaskError in its place; losing Redis rejects the
   * whole call, with the tasks before that point stored (resend with idempotency keys to be sure).
   */
  async submitMany(inputs: readonly SubmitInput[], via: string): Promise<(SubmitResult | TaskError)[]> {
    return Promise.all(inputs.map((input) => this.submit(input, via).catch((err: unknown) => {
      if (err instanceof TaskError) return err
      throw err
    })))
  }

  /** One task; TASK_EXPIRED for one of ours that retention has removed, TASK_NOT_FOUND otherwise. */
  async get(taskId: string): Promise<Task> {
    const task = taskFromHash(await withRedis(() => this.redis.hgetall(this.keys.task(taskId))))
    if (task !== null) return task
    const made = taskIdTime(taskId)
    if (made !== null && made <= Date.now()) {
      const r = this.limits.retention
      throw new TaskError(
        'TASK_EXPIRED',
        `task ${taskId} (submitted ${new Date(made).toISOString()}) is no longer kept`,
        `finished tasks are kept ${r.completed.ageMs / 1000} s and at most ${r.completed.count} (tasks.keepCompleted; failed: tasks.keepFailed, dead: tasks.keepDead)`,
      )
    }
    throw new TaskError('TASK_NOT_FOUND', `task ${taskId} does not exist`, 'check the id returned by POST /tasks/submit')
  }

  /**
   * A pull agent's next task, taken in this one call: one a distributor
   * assigned to it, else (under least_connections) the highest-priority ready
   * task of a class it can take, marked running. With `wait`, an agent that
   * finds nothing is entered as waiting, so that the next task it can take is
   * handed to it at submission (TaskWakeups delivers it to this daemon).
   */
  async next(agentId: string, wait?: Wait): Promise<NextResult> {
    return nextResult(await this.run<string[]>('next', [], [agentId, ...waitArgs(wait)]))
  }

  /** The agent's poll ended without a task: a submit no longer hands it one. */
  async stopWaiting(agentId: string): Promise<void> {
    await withRedis(() => this.redis.zrem(this.keys.waitingAgents, agentId))
  }

  /** A task handed to an agent whose poll had already ended goes back to its queue, the attempt not counted. */
  async handBack(taskId: string, agentId: string): Promise<'OK' | 'GONE'> {
    return this.run<'OK' | 'GONE'>('handBack', [this.keys.task(taskId)], [taskId, agentId])
  }

  /**
   * Completes a task and, in the same script, takes the agent's next one; with
   * `wait`, an agent that finds nothing is entered as waiting, as by next().
   */
  async completeAndNext(taskId: string, agentId: string, result: string, wait?: Wait): Promise<NextResult> {
    const res = await this.run<string | string[]>(
      'finish',
      [this.keys.task(taskId)],
      [taskId, agentId, 'completed+next', result, ...waitArgs(wait)],
    )
    if (!Array.isArray(res)) throw reportError(taskId, res)
    return nextResult(res)
  }

  /** An agent's report; throws a TaskError when it changes nothing. */
  async report(
    taskId: string,
    agentId: string,
    outcome: 'running' | 'completed' | 'failed' | 'retry',
    payload: string,
  ): Promise<ReportOutcome> {
    const res = await this.run<string>('finish', [this.keys.task(taskId)], [taskId, agentId, outcome, payload])
    if (res === 'OK' || res === 'REQUEUED' || res === 'DEAD') return res
    throw reportError(taskId, res)
  }

  /**
   * A distributor's atomic claim of a queued task for an agent. A push that
   * tries an open circuit's agent holds it half open for probeHoldMs.
   */
  assign(taskId: string, agent: AgentSlot, probeHoldMs = 30_000): Promise<AssignOutcome> {
    return this.run<AssignOutcome>(
      'assign',
      [this.keys.task(taskId), this.keys.agent(agent.agent_id)],
      [taskId, agent.agent_id, agent.http === null ? '1' : '0', String(probeHoldMs)],
    )
  }

  /** Tasks that may be assigned now, in serving order, and when the next delayed one becomes ready. */
  async readyTasks(limitPerQueue: number): Promise<{ tasks: ReadyTask[], nextReadyAt: number | null }> {
    const flat = await this.run<string[]>('ready', [], [String(limitPerQueue)])
    const tasks: ReadyTask[] = []
    for (let i = 1; i + 4 < flat.length; i += 5) {
      const avoid = JSON.parse(flat[i + 4]!) as unknown
      tasks.push({
        priority: flat[i] as Priority,
        id: flat[i + 1]!,
        requirements: JSON.parse(flat[i + 2]!) as Requirements,
        submittedMs: Number(flat[i + 3]),
        avoid: Array.isArray(avoid) ? avoid.map(String) : [],
      })
    }
    const next = Number(flat[0])
    return { tasks, nextReadyAt: next >= 0 ? next : null }
  }

  /**
   * Takes back tasks whose lease ran out ('expired'), or also those whose
   * agent is stale, in error or gone ('all'); returns them and the lowest lease end left.
   */
  async reclaim(mode: 'expired' | 'all', limit = 1000): Promise<{ taken: string[], nextLeaseEnd: number | null }> {
    const [next, ...taken] = await this.run<string[]>('reclaim', [], [mode, String(limit)])
    const n = Number(next)
    return { taken, nextLeaseEnd: n >= 0 ? n : null }
  }

  async requeue(taskId: string): Promise<void> {
    const res = await this.run<string>('requeue', [this.keys.task(taskId)], [taskId])
    if (res === 'OK') return
    // Why not: get() says not found or expired; otherwise it names the state.
    const task = await this.get(taskId)
    throw new TaskError('TASK_NOT_DEAD', `task ${taskId} is ${task.state}; only dead tasks can be requeued`)
  }

  /** Ends every queued task of a priority as failed, naming who cleared it; returns how many. */
  clear(priority: Priority, who: string): Promise<number> {
    return this.run<number>('clear', [], [priority, `cancelled: ${priority} queue cleared by ${who}`])
  }

  async queueSizes(): Promise<Record<Priority, number>> {
    const sizes = await this.run<number[]>('sizes', [], [])
    return Object.fromEntries(PRIORITIES.map((p, i) => [p, Number(sizes[i] ?? 0)])) as Record<Priority, number>
  }

  /** The newest dead letters. */
  async dead(limit: number): Promise<Task[]> {
    return (await this.deadLetters(limit)).tasks
  }

  /**
   * How many dead letters wait now and the newest `limit` of them, counted and
   * listed in one transaction so that the count and the list always agree.
   */
  async deadLetters(limit: number): Promise<{ count: number, tasks: Task[] }> {
    const read = this.redis.multi().zcard(this.keys.deadTasks)
    if (limit > 0) read.zrevrange(this.keys.deadTasks, 0, limit - 1)
    const answers = ((await withRedis(() => read.exec())) ?? []).map(([err, value]) => {
      if (err !== null) throw err
      return value
    })
    const count = Number(answers[0] ?? 0)
    const ids = (answers[1] ?? []) as string[]
    if (ids.length === 0) return { count, tasks: [] }
    const pipe = this.redis.pipeline()
    for (const id of ids) pipe.hgetall(this.keys.task(id))
    const rows = (await withRedis(() => pipe.exec())) ?? []
    // A letter requeued (or expired) between the two reads has left the list: it leaves the count too.
    const tasks = rows.map(([, h]) => taskFromHash((h ?? {}) as Record<string, string>)).filter((t): t is Task => t?.state === 'dead')
    return { count: count - (ids.length - tasks.length), tasks }
  }

  async counters(): Promise<Record<string, number>> {
    const raw = await withRedis(() => this.redis.hgetall(this.keys.taskStats))
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]))
  }

  async inFlight(): Promise<number> {
    return withRedis(() => this.redis.zcard(this.keys.leases))
  }
}

/** A claim's wait arguments: how long the agent will wait (ms, 0: it will not) and the daemon instance holding it. */
function waitArgs(wait?: Wait): [string, string] {
  return [String(Math.max(0, Math.round(wait?.ms ?? 0))), wait?.instance ?? '']
}

function reportError(taskId: string, res: string): TaskError {
  const [code, text] = REPORT_ERRORS[res] ?? ['TASK_NOT_FOUND', `unexpected answer ${res}`]
  return new TaskError(code, `task ${taskId}: ${text}`)
}

function nextResult(flat: string[]): NextResult {
  if (flat[0] === 'T') {
    const hash: Record<string, string> = {}
    for (let i = 1; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!
    const task = taskFromHash(hash)
    if (task !== null) return { task }
    return { task: null, why: 'empty', inFlight: 0, can: [], cannot: [] }
  }
  const nCan = Number(flat[3] ?? 0)
  return {
    task: null,
    why: flat[1] as IdleReason,
    inFlight: Number(flat[2] ?? 0),
    can: flat.slice(4, 4 + nCan),
    cannot: flat.slice(4 + nCan),
  }
}

/**
 * The key layout the task scripts use (lua/tasks/includes/layout.lua), from
 * redis-keys.ts: written into the library, the same for every daemon with
 * the same key prefix.
 */
function layoutJson(keys: RedisKeys): string {
  return JSON.stringify({
    keys: {
      leases: keys.leases, stats: keys.taskStats, dead: keys.deadTasks, classes: keys.requirementClasses,
      done_completed: keys.completedTasks, done_failed: keys.failedTasks, strategy: keys.strategy,
      waiting: keys.waitingAgents, waiting_at: keys.waitingAt,
    },
    prefixes: {
      task: keys.taskPrefix, queue: keys.queuePrefix, sep: keys.classSeparator, agent: keys.agentPrefix,
      pull: keys.agentTasksPrefix, channel: keys.taskEvents, handoffs: keys.handOffsPrefix,
    },
    priorities: PRIORITIES,
  })
}

/** A daemon's settings as the scripts read them, in the order of lua/tasks/includes/layout.lua. */
function settingsArg(limits: TaskLimits): string {
  const r = limits.retention
  const values = [
    r.completed.ageMs, r.completed.count, r.failed.ageMs, r.failed.count, r.dead.ageMs, r.dead.count,
    limits.retryBackoffMs, limits.agentCapacity, limits.agingMs ?? -1,
  ]
  for (const n of values) if (!Number.isFinite(n)) throw new Error(`task setting not a number: ${n}`)
  if (!/^\S+$/.test(limits.defaultStrategy)) throw new Error(`task strategy not one word: ${limits.defaultStrategy}`)
  return [...values.map(String), limits.defaultStrategy].join(' ')
}
