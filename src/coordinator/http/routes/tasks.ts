import { z } from 'zod'
import { ApiError } from '../../errors.js'
import { agentId as agentIdSchema } from '../../registry/agent.js'
import { TaskError } from '../../tasks/task-errors.js'
import type { TaskWaiter } from '../../tasks/task-waiter.js'
import { completeSchema, failSchema, MAX_SUBMIT_BATCH, submitBatchSchema, submitSchema, type Task } from '../../tasks/task.js'
import { readJson, validate } from '../body.js'
import type { Route } from '../route-table.js'
import { taskAnswers } from './task-answers.js'
import type { TaskRouteDeps } from './task-deps.js'
import { taskQueueRoutes } from './task-queues.js'

/** The task routes' deps once mounted: the long polls' waiter made from them (app.ts). */
export type MountedTaskDeps = TaskRouteDeps & { waiter: TaskWaiter }

export type { TaskRouteDeps }

const taskId = z.uuid('expected a task id (UUID)')
const params = z.strictObject({ id: taskId })
const waitMs = z.coerce.number().int().min(0).max(60_000, 'expected at most 60000 ms').default(0)
/**
 * POST /tasks/:id/complete's query: next=1 hands the agent its next task in the answer;
 * with wait_ms the answer waits that long for one when there is none (a long poll, as GET .../tasks/next).
 */
export const completeQuery = z.strictObject({ next: z.enum(['0', '1']).default('0'), wait_ms: waitMs })
/** GET /agents/:id/tasks/next's query: how long to wait for a task. */
export const nextTaskQuery = z.strictObject({ wait_ms: waitMs })
const REPORT_ERRORS = ['TASK_NOT_FOUND', 'TASK_ALREADY_FINISHED', 'TASK_NOT_ASSIGNED', 'TASK_WRONG_AGENT'] as const
const tag = 'tasks'

/** Counts a pull agent's first claim of a task (metrics). */
function claimed(deps: TaskRouteDeps, task: Task): Task {
  if (task.attempts === 1 && task.assigned_at !== null) {
    deps.onAssigned?.(task.priority, Date.parse(task.assigned_at) - Date.parse(task.submitted_at))
  }
  return task
}

function checkSize(deps: TaskRouteDeps, data: unknown, field: string): void {
  if (Buffer.byteLength(JSON.stringify(data)) > deps.maxTaskBytes) {
    throw new ApiError('TASK_TOO_LARGE', `${field}: larger than ${deps.maxTaskBytes} bytes`, 'send a reference to the data instead')
  }
}

/** The seed's task routes plus leases, dead letters and the shared strategy. */
export function taskRoutes(limits: { maxTimeoutMs: number }): Route<MountedTaskDeps>[] {
  const submitBody = submitSchema({ maxTimeoutMs: limits.maxTimeoutMs })
  const batchBody = submitBatchSchema({ maxTimeoutMs: limits.maxTimeoutMs })
  return [
    ...taskQueueRoutes(),
    {
      method: 'post', path: '/tasks/submit', tag, summary: 'Submit a task (seed 001)', scopes: ['agent', 'operate'], body: submitBody,
      errors: ['TASK_TOO_LARGE', 'QUEUE_FULL'],
      ok: { 201: { description: 'stored and queued', schema: taskAnswers.submitted }, 200: { description: 'the first task with this idempotency key', schema: taskAnswers.submitted } },
      example: { task_data: { model: 'llama2', prompt: 'Hello' }, priority: 'high', requirements: { agent_type: 'worker', capabilities: ['inference'] } },
      handle: async (ctx, deps) => {
        const input = validate(submitBody, await readJson(ctx, deps.bodyLimitBytes))
        checkSize(deps, input.task_data, 'task_data')
        const task = await deps.tasks.submit(input, deps.nodeName)
        const { duplicate } = task
        if (!duplicate) {
          deps.distributor.wake()
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
      },
    },
    {
      method: 'post', path: '/tasks/submit-batch', tag, summary: `Submit up to ${MAX_SUBMIT_BATCH} tasks in one request, in order (as BullMQ's addBulk)`,
      scopes: ['agent', 'operate'], body: batchBody, errors: ['TASK_TOO_LARGE'],
      ok: {
        201: { description: 'every task stored, or found by its idempotency key', schema: taskAnswers.submittedBatch },
        429: { description: 'QUEUE_FULL: the queue bound refused some; `tasks` gives each one\'s outcome, so resend only the refused', schema: taskAnswers.batchRefused },
      },
      example: { tasks: [{ task_data: { model: 'llama2', prompt: 'Hello' } }, { task_data: { model: 'llama2', prompt: 'Bye' }, priority: 'low', idempotency_key: 'bye-1' }] },
      // Each task stored as by /tasks/submit, in order. 201 when every one was stored (or found by its
      // idempotency key); 429 QUEUE_FULL when the queue bound refused some, with each task's outcome.
      handle: async (ctx, deps) => {
        const { tasks: inputs } = validate(batchBody, await readJson(ctx, deps.bodyLimitBytes))
        inputs.forEach((input, i) => checkSize(deps, input.task_data, `tasks.${i}.task_data`))
        const outcomes = await deps.tasks.submitMany(inputs, deps.nodeName)
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
        if (stored > 0) deps.distributor.wake()
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
      },
    },
    {
      method: 'get', path: '/tasks/{id}', tag, summary: 'One task', scopes: ['read', 'agent', 'operate'], params, errors: ['TASK_NOT_FOUND', 'TASK_EXPIRED'],
      ok: { 200: { description: 'the task', schema: taskAnswers.task } },
      handle: async (ctx, deps) => {
        ctx.body = { status: 'success', task: await deps.tasks.get(validate(taskId, ctx.params.id, 'task_id')) }
      },
    },
    {
      method: 'post', path: '/tasks/{id}/requeue', tag, summary: 'Put a dead task back with fresh retries', scopes: ['admin'], params,
      errors: ['TASK_NOT_FOUND', 'TASK_NOT_DEAD', 'TASK_EXPIRED'], ok: { 200: { description: 'queued again', schema: taskAnswers.requeued } },
      handle: async (ctx, deps) => {
        const id = validate(taskId, ctx.params.id, 'task_id')
        await deps.tasks.requeue(id)
        deps.distributor.wake()
        ctx.body = { status: 'success', task_id: id, message: `Task ${id} is queued again with fresh retries` }
      },
    },
    {
      method: 'post', path: '/tasks/{id}/complete', tag, summary: 'Report a result (the assigned agent); ?next=1 returns its next task, &wait_ms waits for one', scopes: ['agent'],
      params, query: completeQuery, body: completeSchema, errors: REPORT_ERRORS,
      ok: { 200: { description: 'completed', schema: taskAnswers.taskReported } }, example: { agent_id: 'hermes-agent', result: { answer: 42 } },
      handle: async (ctx, deps) => {
        const id = validate(taskId, ctx.params.id, 'task_id')
        const body = validate(completeSchema, await readJson(ctx, deps.bodyLimitBytes))
        const { next, wait_ms: waitMs } = validate(completeQuery, { ...ctx.query }, 'query')
        const result = JSON.stringify(body.result ?? null)
        const completed = (): void => {
          deps.onOutcome?.('completed')
          deps.distributor.wake()
        }
        // With ?next=1 a pull agent gets its next task in the same answer (one round trip per task).
        if (next === '1') {
          const task = await deps.waiter.completeAndNext(id, body.agent_id, result, { waitMs, client: ctx.res, completed })
          ctx.body = { status: 'success', task_id: id, task_state: 'completed', next_task: task === null ? null : claimed(deps, task) }
          return
        }
        await deps.tasks.report(id, body.agent_id, 'completed', result)
        completed()
        ctx.body = { status: 'success', task_id: id, task_state: 'completed' }
      },
    },
    {
      method: 'post', path: '/tasks/{id}/fail', tag, summary: 'Report a failure (retried unless retryable is false)', scopes: ['agent'],
      params, body: failSchema, errors: REPORT_ERRORS, ok: { 200: { description: 'recorded', schema: taskAnswers.taskReported } },
      handle: async (ctx, deps) => {
        const id = validate(taskId, ctx.params.id, 'task_id')
        const body = validate(failSchema, await readJson(ctx, deps.bodyLimitBytes))
        const res = await deps.tasks.report(id, body.agent_id, body.retryable ? 'retry' : 'failed', body.error)
        deps.distributor.wake()
        const state = res === 'REQUEUED' ? 'queued' : res === 'DEAD' ? 'dead' : 'failed'
        deps.onOutcome?.(state === 'queued' ? 'retried' : state)
        ctx.body = { status: 'success', task_id: id, task_state: state }
      },
    },
    {
      method: 'get', path: '/agents/{id}/tasks/next', tag, summary: 'Long poll for the agent\'s next task', scopes: ['agent'],
      params: z.strictObject({ id: agentIdSchema }), query: nextTaskQuery, errors: [],
      ok: { 200: { description: 'a task', schema: taskAnswers.task }, 204: { description: 'none within wait_ms' } },
      handle: async (ctx, deps) => {
        const agent = validate(agentIdSchema, ctx.params.id, 'agent_id')
        const { wait_ms: waitMs } = validate(nextTaskQuery, { ...ctx.query }, 'query')
        const task = await deps.waiter.next(agent, { waitMs, client: ctx.res })
        if (task === null) {
          ctx.status = 204
          return
        }
        ctx.body = { status: 'success', task: claimed(deps, task) }
      },
    },
  ]
}
