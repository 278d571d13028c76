import { z } from 'zod'
import { PRIORITIES, STRATEGIES } from '../../tasks/task.js'
import { readJson, validate } from '../body.js'
import type { Route } from '../route-table.js'
import { taskAnswers } from './task-answers.js'
import type { TaskRouteDeps } from './task-deps.js'

/** GET /tasks/queues/stats's query: dead=N adds the newest N dead letters to the answer (the dashboard's one read). */
export const queueStatsQuery = z.strictObject({ dead: z.coerce.number().int().min(0).max(1000).default(0) })
/** GET /tasks/dead's query. */
export const deadQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) })
/** PUT /load-balancer/strategy's body. */
export const strategyBody = z.strictObject({ strategy: z.enum(STRATEGIES, `expected one of ${STRATEGIES.join(', ')}`) })
const priorityParam = z.enum(PRIORITIES, `expected one of ${PRIORITIES.join(', ')}`)
const read = ['read', 'agent', 'operate'] as const
const tag = 'tasks'

/** The queues' views, their admin and the shared strategy; mounted before /tasks/{id}, which would match their paths. */
export function taskQueueRoutes(): Route<TaskRouteDeps>[] {
  return [
    {
      method: 'get', path: '/tasks/status', tag, summary: 'Distribution stats (seed 001)', scopes: read, errors: [],
      ok: { 200: { description: 'stats', schema: taskAnswers.taskStatus } },
      handle: async (ctx, deps) => {
        ctx.body = { status: 'success', stats: await stats(deps) }
      },
    },
    {
      method: 'get', path: '/tasks/queues', tag, summary: 'Queue sizes by priority', scopes: read, errors: [],
      ok: { 200: { description: 'sizes', schema: taskAnswers.queues } },
      handle: async (ctx, deps) => {
        ctx.body = { status: 'success', queue_sizes: await deps.tasks.queueSizes() }
      },
    },
    {
      method: 'get', path: '/tasks/queues/stats', tag, summary: 'Queue sizes, stats and the dead letters waiting (?dead=N lists the newest N), from one read',
      scopes: read, query: queueStatsQuery, errors: [], ok: { 200: { description: 'stats', schema: taskAnswers.queueStats } },
      // One answer for a whole view: the sizes are read once (stats carries them), and the dead letters'
      // count and list in one transaction, so that no figure of the answer contradicts another.
      handle: async (ctx, deps) => {
        const { dead } = validate(queueStatsQuery, { ...ctx.query }, 'query')
        const [s, deadLetters] = await Promise.all([stats(deps), deps.tasks.deadLetters(dead)])
        const sizes = s.queue_sizes
        ctx.body = {
          status: 'success', queue_sizes: sizes, total_queued: Object.values(sizes).reduce((a, b) => a + b, 0), stats: s, dead_letters: deadLetters,
        }
      },
    },
    {
      method: 'post', path: '/tasks/queues/{priority}/clear', tag, summary: 'End a queue\'s tasks as failed (cancelled)', scopes: ['admin'],
      params: z.strictObject({ priority: z.enum(PRIORITIES) }), errors: [], ok: { 200: { description: 'cleared', schema: taskAnswers.queueCleared } },
      handle: async (ctx, deps) => {
        const priority = validate(priorityParam, ctx.params.priority?.toLowerCase(), 'priority')
        const who = (ctx.state as { principal?: { name: string } }).principal?.name ?? 'an admin'
        const cleared = await deps.tasks.clear(priority, who)
        ctx.body = { status: 'success', priority, cleared, message: `${cleared} ${priority} tasks ended as failed (cancelled)` }
      },
    },
    {
      method: 'get', path: '/tasks/dead', tag, summary: 'Dead letters', scopes: read, query: deadQuery, errors: [],
      ok: { 200: { description: 'dead tasks', schema: taskAnswers.deadTasks } },
      handle: async (ctx, deps) => {
        const { limit } = validate(deadQuery, { ...ctx.query }, 'query')
        const { count: total, tasks } = await deps.tasks.deadLetters(limit)
        ctx.body = { status: 'success', tasks, count: tasks.length, total }
      },
    },
    {
      method: 'get', path: '/load-balancer/strategy', tag, summary: 'The strategy every daemon uses', scopes: read, errors: [],
      ok: { 200: { description: 'the strategy', schema: taskAnswers.strategy } },
      handle: async (ctx, deps) => {
        ctx.body = { status: 'success', strategy: await deps.balancer.strategy(), available: STRATEGIES }
      },
    },
    {
      method: 'put', path: '/load-balancer/strategy', tag, summary: 'Change the strategy', scopes: ['admin'], body: strategyBody, errors: [],
      ok: { 200: { description: 'changed', schema: taskAnswers.strategy } }, example: { strategy: 'round_robin' },
      handle: async (ctx, deps) => {
        const { strategy } = validate(strategyBody, await readJson(ctx, deps.bodyLimitBytes))
        await deps.balancer.setStrategy(strategy)
        ctx.body = { status: 'success', strategy, message: `every daemon on this registry now uses ${strategy}` }
      },
    },
  ]
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
