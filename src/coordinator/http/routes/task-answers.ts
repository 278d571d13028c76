import { z } from 'zod'
import { PRIORITIES, STRATEGIES, TASK_STATES } from '../../tasks/task.js'
import { errorAnswer, object, success, time } from './answers.js'

/** The task routes' answers (the OpenAPI document and the contract test read them). */

export const taskAnswer = z.looseObject({
  task_id: z.string(),
  state: z.enum(TASK_STATES),
  priority: z.enum(PRIORITIES),
  task_data: object,
  requirements: object,
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

export const taskAnswers = {
  submitted: z.looseObject({
    status: success, message: z.string(), task_id: z.string(), priority: z.enum(PRIORITIES), submitted_at: time,
    duplicate: z.boolean(),
  }),
  submittedBatch: z.looseObject({
    status: success, message: z.string(), ...batchCounts, tasks: z.array(batchItem),
  }),
  batchRefused: errorAnswer(['QUEUE_FULL']).extend({ ...batchCounts, tasks: z.array(batchItem) }),
  task: z.looseObject({ status: success, task: taskAnswer }),
  taskReported: z.looseObject({
    status: success, task_id: z.string(), task_state: z.enum(TASK_STATES), next_task: taskAnswer.nullable().optional(),
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
    status: success, queue_sizes: queueSizes, total_queued: z.number(), stats: object,
    dead_letters: z.looseObject({ count: z.number(), tasks: z.array(taskAnswer) }),
  }),
  queueCleared: z.looseObject({ status: success, priority: z.enum(PRIORITIES), cleared: z.number(), message: z.string() }),
  deadTasks: z.looseObject({ status: success, tasks: z.array(object), count: z.number(), total: z.number() }),
  strategy: z.looseObject({ status: success, strategy: z.enum(STRATEGIES) }),
}
