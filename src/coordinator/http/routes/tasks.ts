import type Router from '@koa/router'
import type { Context } from 'koa'
import { z } from 'zod'
import { ApiError } from '../../errors.js'
import { agentId as agentIdSchema } from '../../registry/agent.js'
import type { AgentRegistry } from '../../store/agent-registry.js'
import type { LoadBalancerState } from '../../store/load-balancer-state.js'
import type { TaskDistributor } from '../../tasks/task-distributor.js'
import type { NextResult, TaskRepository } from '../../store/task-repository.js'
import type { TaskWakeups, Wake } from '../../tasks/task-wakeups.js'
import { TaskError } from '../../tasks/task-errors.js'
import { completeSchema, failSchema, PRIORITIES, type Priority, STRATEGIES, submitBatchSchema, submitSchema, type Task } from '../../tasks/task.js'
import { requireScope } from '../auth.js'
import { readJson, validate } from '../body.js'

/** What the task routes need. */
export interface TaskRouteDeps {
  tasks: TaskRepository
  balancer: LoadBalancerState
  registry: Pick<AgentRegistry, 'activeSlots'>
  distributor: TaskDistributor
  wakeups: TaskWakeups
  /** Capacity of an agent whose metadata gives none (for the stats' loads). */
  defaultCapacity: number
  /** Called for each task a pull agent took here (metrics). */
  onAssigned?(priority: Priority, waitedMs: number): void
  /** Called for each new submission, completion and failure report this daemon took (metrics: counted where it happened). */
  onOutcome?(outcome: 'submitted' | 'completed' | 'failed' | 'retried' | 'dead'): void
  /** A task handed to a poll whose client had gone: back to its queue (TaskRepository.handBack). */
  onUnclaimed(agentId: string, task: Task): void
  nodeName: string
  bodyLimitBytes: number
  maxTaskBytes: number
  maxTimeoutMs: number
}

const readScope = requireScope('read', 'agent', 'operate')
const submitScope = requireScope('operate', 'agent')
const agentScope = requireScope('agent')
const adminScope = requireScope('admin')
const taskId = z.uuid('expected a task id (UUID)')
const waitMs = z.coerce.number().int().min(0).max(60_000, 'expected at most 60000 ms').default(0)
/**
 * POST /tasks/:id/complete's query: next=1 hands the agent its next task in the answer;
 * with wait_ms the answer waits that long for one when there is none (a long poll, as GET .../tasks/next).
 */
export const completeQuery = z.strictObject({ next: z.enum(['0', '1']).default('0'), wait_ms: waitMs })
/** GET /agents/:id/tasks/next's query: how long to wait for a task. */
export const nextTaskQuery = z.strictObject({ wait_ms: waitMs })
/** GET /tasks/queues/stats's query: dead=N adds the newest N dead letters to the answer (the dashboard's one read). */
export const queueStatsQuery = z.strictObject({ dead: z.coerce.number().int().min(0).max(1000).default(0) })
/** GET /tasks/dead's query. */
export const deadQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) })
/** PUT /load-balancer/strategy's body. */
export const strategyBody = z.strictObject({ strategy: z.enum(STRATEGIES, `expected one of ${STRATEGIES.join(', ')}`) })
const priorityParam = z.enum(PRIORITIES, `expected one of ${PRIORITIES.join(', ')}`)

/** The seed's task routes plus leases, dead letters and the shared strategy. */
export function taskRoutes(router: Router, deps: TaskRouteDeps): void {
  const { tasks: store, distributor } = deps
  const claimed = (task: Task): Task => {
    if (task.attempts === 1 && task.assigned_at !== null) {
      deps.onAssigned?.(task.priority, Date.parse(task.assigned_at) - Date.parse(task.submitted_at))
    }
    return task
  }
  const submitBody = submitSchema({ maxTimeoutMs: deps.maxTimeoutMs })
  const batchBody = submitBatchSchema({ maxTimeoutMs: deps.maxTimeoutMs })
  const checkSize = (data: unknown, field: string): void => {
    if (Buffer.byteLength(JSON.stringify(data)) > deps.maxTaskBytes) {
      throw new ApiError(413, 'TASK_TOO_LARGE', `${field}: larger than ${deps.maxTaskBytes} bytes`, 'send a reference to the data instead')
    }
  }

  router.post('/tasks/submit', submitScope, async (ctx) => {
    const input = validate(submitBody, await readJson(ctx, deps.bodyLimitBytes))
    checkSize(input.task_data, 'task_data')
    const task = await store.submit(input, deps.nodeName)
    const { duplicate } = task
    if (!duplicate) {
      distributor.wake()
      deps.onOutcome?.('submitted')
    }
    ctx.status = duplicate ? 200 : 201
    ctx.body = {
      status: 'success',
      message: duplicate ? `Task ${task.task_id} was already submitted with this idempotency key` : `Task ${task.task_id} submitted`,
      task_id: task.task_id,
      priority: task.priority,
      submitted_at: task.submitted_at,
      duplicate,
    }
  })

  // Many tasks in one request, as BullMQ's addBulk: each stored as by /tasks/submit, in order.
  // 201 when every one was stored (or found by its idempotency key); 429 QUEUE_FULL when the queue
  // bound refused some, with each task's outcome in `tasks` so that only the refused are sent again.
  router.post('/tasks/submit-batch', submitScope, async (ctx) => {
    const { tasks: inputs } = validate(batchBody, await readJson(ctx, deps.bodyLimitBytes))
    inputs.forEach((input, i) => checkSize(input.task_data, `tasks.${i}.task_data`))
    const outcomes = await store.submitMany(inputs, deps.nodeName)
    const tasks = outcomes.map((o) => o instanceof TaskError
      ? { error: { code: o.code, message: o.message } }
      : { task_id: o.task_id, priority: o.priority, submitted_at: o.submitted_at, duplicate: o.duplicate })
    const counts = { submitted: 0, duplicates: 0, refused: 0 }
    let refused: TaskError | undefined
    for (const o of outcomes) {
      if (o instanceof TaskError) {
        counts.refused++
        refused ??= o
      } else if (o.duplicate) counts.duplicates++
      else {
        counts.submitted++
        deps.onOutcome?.('submitted')
      }
    }
    const { submitted: stored, duplicates } = counts
    if (stored > 0) distributor.wake()
    if (refused !== undefined) {
      ctx.status = 429
      ctx.body = {
        status: 'error', code: refused.code, message: `${counts.refused} of ${inputs.length} tasks refused: ${refused.message}`,
        detail: refused.detail ?? null, ...counts, tasks,
      }
      return
    }
    ctx.status = 201
    ctx.body = { status: 'success', message: `${stored} tasks submitted, ${duplicates} already submitted with their idempotency keys`, ...counts, tasks }
  })

  router.get('/tasks/status', readScope, async (ctx) => {
    ctx.body = { status: 'success', stats: await stats(deps) }
  })

  router.get('/tasks/queues', readScope, async (ctx) => {
    ctx.body = { status: 'success', queue_sizes: await store.queueSizes() }
  })

  // One answer for a whole view: the sizes are read once (stats carries them), and the dead letters'
  // count and list in one transaction, so that no figure of the answer contradicts another.
  router.get('/tasks/queues/stats', readScope, async (ctx) => {
    const { dead } = validate(queueStatsQuery, { ...ctx.query }, 'query')
    const [s, deadLetters] = await Promise.all([stats(deps), store.deadLetters(dead)])
    const sizes = s.queue_sizes
    ctx.body = {
      status: 'success', queue_sizes: sizes, total_queued: Object.values(sizes).reduce((a, b) => a + b, 0), stats: s, dead_letters: deadLetters,
    }
  })

  router.post('/tasks/queues/:priority/clear', adminScope, async (ctx) => {
    const priority = validate(priorityParam, ctx.params.priority?.toLowerCase(), 'priority')
    const who = (ctx.state as { principal?: { name: string } }).principal?.name ?? 'an admin'
    const cleared = await store.clear(priority, who)
    ctx.body = { status: 'success', priority, cleared, message: `${cleared} ${priority} tasks ended as failed (cancelled)` }
  })

  router.get('/tasks/dead', readScope, async (ctx) => {
    const { limit } = validate(deadQuery, { ...ctx.query }, 'query')
    const { count: total, tasks } = await store.deadLetters(limit)
    ctx.body = { status: 'success', tasks, count: tasks.length, total }
  })

  router.get('/tasks/:id', readScope, async (ctx) => {
    ctx.body = { status: 'success', task: await store.get(validate(taskId, ctx.params.id, 'task_id')) }
  })

  router.post('/tasks/:id/requeue', adminScope, async (ctx) => {
    const id = validate(taskId, ctx.params.id, 'task_id')
    await store.requeue(id)
    distributor.wake()
    ctx.body = { status: 'success', task_id: id, message: `Task ${id} is queued again with fresh retries` }
  })

  router.post('/tasks/:id/complete', agentScope, async (ctx) => {
    const id = validate(taskId, ctx.params.id, 'task_id')
    const body = validate(completeSchema, await readJson(ctx, deps.bodyLimitBytes))
    const { next, wait_ms: waitMs } = validate(completeQuery, { ...ctx.query }, 'query')
    const result = JSON.stringify(body.result ?? null)
    // With ?next=1 a pull agent gets its next task in the same answer (one round trip per task).
    if (next === '1') {
      const poll = longPoll(ctx, body.agent_id, waitMs)
      const since = deps.wakeups.sequence
      const following = await store.completeAndNext(id, body.agent_id, result, poll.wait())
      deps.onOutcome?.('completed')
      distributor.wake()
      const task = following.task ?? await poll.waitFor(following, since)
      ctx.body = { status: 'success', task_id: id, task_state: 'completed', next_task: task === null ? null : claimed(task) }
      return
    }
    await store.report(id, body.agent_id, 'completed', result)
    deps.onOutcome?.('completed')
    distributor.wake()
    ctx.body = { status: 'success', task_id: id, task_state: 'completed' }
  })

  router.post('/tasks/:id/fail', agentScope, async (ctx) => {
    const id = validate(taskId, ctx.params.id, 'task_id')
    const body = validate(failSchema, await readJson(ctx, deps.bodyLimitBytes))
    const res = await store.report(id, body.agent_id, body.retryable ? 'retry' : 'failed', body.error)
    distributor.wake()
    const state = res === 'REQUEUED' ? 'queued' : res === 'DEAD' ? 'dead' : 'failed'
    deps.onOutcome?.(state === 'queued' ? 'retried' : state)
    ctx.body = { status: 'success', task_id: id, task_state: state }
  })

  router.get('/agents/:id/tasks/next', agentScope, async (ctx) => {
    const agent = validate(agentIdSchema, ctx.params.id, 'agent_id')
    const { wait_ms: waitMs } = validate(nextTaskQuery, { ...ctx.query }, 'query')
    const poll = longPoll(ctx, agent, waitMs)
    const since = deps.wakeups.sequence
    const next = await store.next(agent, poll.wait())
    const task = next.task ?? await poll.waitFor(next, since)
    if (task === null) {
      ctx.status = 204
      return
    }
    ctx.body = { status: 'success', task: claimed(task) }
  })

  /**
   * An agent's wait for its next task until `ms` from now: woken by a hand-off
   * at submission or a wake-up for a class it can take; it ends with the client.
   */
  function longPoll(ctx: Context, agent: string, ms: number) {
    const { wakeups } = deps
    // No wait (most completions): nothing to follow.
    if (ms <= 0) return { wait: () => undefined, waitFor: async (idle: NextResult, _since: number) => idle.task }
    const deadline = Date.now() + ms
    // The wait is aborted only when the client goes while it waits, and its controller is made only
    // then: an abort on every answered request's close builds an AbortError with its stack each time
    // (measured: 1.4% of the CPU).
    let gone: AbortController | null = null
    let closed = false
    ctx.res.once('close', () => {
      closed = true
      gone?.abort()
    })
    const wait = () => ({ ms: deadline - Date.now(), instance: wakeups.instance })
    /**
     * After a claim found nothing (`idle`; `since`: the wake-up sequence read before it): the task
     * handed over or claimed, or null when the wait ends.
     */
    const waitFor = async (idle: NextResult, since: number): Promise<Task | null> => {
      gone = new AbortController()
      try {
        return await follow(idle, since, gone.signal)
      } finally {
        gone = null
      }
    }
    const follow = async (idle: NextResult, since: number, signal: AbortSignal): Promise<Task | null> => {
      let next = idle
      let woken: Wake | null = null
      for (;;) {
        if (next.task !== null) return next.task
        // Woken for a task this agent cannot take after all (full, inactive): the next waiter may.
        if (woken?.handedOff === undefined && woken?.requirementClass != null && next.why !== 'empty') {
          wakeups.passOn(woken.requirementClass, new Set([...woken.tried, agent]))
        }
        const left = deadline - Date.now()
        woken = left > 0 && !closed ? await wakeups.wait(agent, next, left, signal, since) : null
        if (woken?.handedOff !== undefined) {
          // Handed over at submission, already running for this agent; unless the client has gone meanwhile.
          if (!closed) return woken.handedOff
          deps.onUnclaimed(agent, woken.handedOff)
        }
        if (woken === null || closed || Date.now() >= deadline) {
          // The poll ends: no task is handed to it any more (not awaited: the answer need not wait for it).
          store.stopWaiting(agent).catch(() => {})
          return null
        }
        since = wakeups.sequence
        next = await store.next(agent, wait())
      }
    }
    return { wait, waitFor }
  }

  router.get('/load-balancer/strategy', readScope, async (ctx) => {
    ctx.body = { status: 'success', strategy: await deps.balancer.strategy(), available: STRATEGIES }
  })

  router.put('/load-balancer/strategy', adminScope, async (ctx) => {
    const { strategy } = validate(strategyBody, await readJson(ctx, deps.bodyLimitBytes))
    await deps.balancer.setStrategy(strategy)
    ctx.body = { status: 'success', strategy, message: `every daemon on this registry now uses ${strategy}` }
  })
}

/** Seed 001's stats, from the counters in Redis shared by every daemon. */
async function stats(deps: TaskRouteDeps) {
  const { tasks: store } = deps
  const [c, sizes, agents, strategy, inFlight] = await Promise.all([
    store.counters(), store.queueSizes(), deps.registry.activeSlots(deps.defaultCapacity),
    deps.balancer.strategy(), store.inFlight(),
  ])
  const n = (k: string): number => c[k] ?? 0
  return {
    tasks_submitted: n('submitted'),
    tasks_distributed: n('distributed'),
    tasks_completed: n('completed'),
    tasks_failed: n('failed'),
    tasks_dead: n('dead'),
    tasks_retried: n('retried'),
    tasks_in_flight: inFlight,
    avg_distribution_time: n('distributed') === 0 ? 0 : n('distribution_ms') / n('distributed') / 1000,
    load_balancer_stats: {
      strategy,
      active_agents: agents.length,
      total_assignments: n('assignments'),
      avg_agent_load: agents.length === 0 ? 0 : agents.reduce((s, a) => s + a.in_flight, 0) / agents.length,
      avg_resource_load: agents.length === 0 ? 0 : agents.reduce((s, a) => s + a.load, 0) / agents.length,
    },
    queue_sizes: sizes,
  }
}
