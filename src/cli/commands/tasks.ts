import type { Command } from 'commander'
import type { Task } from '../../coordinator/index.js'
import { callApi } from '../api-client.js'
import { jsonObject } from '../arguments.js'
import { print, type TargetOf } from '../output.js'
import { table } from '../table.js'

const jsonArg = (flag: string, raw: string | undefined) => jsonObject(flag, raw, '{"model":"llama2","prompt":"hi"}')

/**
 * The outcome of the task's last attempt that ended: a task keeps the error of
 * an attempt that failed and was retried, which a completed retry (or one still
 * running) does not make true of the task.
 */
function lastAttemptError(t: Task): string {
  const ended = t.state === 'failed' || t.state === 'dead' || (t.state === 'queued' && t.attempts > 0)
  return ended ? t.error ?? '-' : '-'
}

/** Tasks as the CLI's table shows them. */
export const taskRows = (tasks: Task[]): string => table(
  ['TASK', 'STATE', 'PRIORITY', 'ATTEMPTS', 'AGENT', 'SUBMITTED', 'ERROR'],
  tasks.map((t) => [t.task_id, t.state, t.priority, String(t.attempts), t.agent_id ?? '-', t.submitted_at, lastAttemptError(t)]),
)

/** GET /tasks/status's stats, as far as the text shows them. */
export interface Stats {
  tasks_submitted: number
  tasks_distributed: number
  tasks_completed: number
  tasks_failed: number
  tasks_dead: number
  tasks_retried: number
  tasks_in_flight: number
  avg_distribution_time: number
  load_balancer_stats: { strategy: string, active_agents: number, total_assignments: number, avg_agent_load: number }
  queue_sizes: Record<string, number>
}

/** Distribution statistics as `tasks status` and `ai distribution-stats` print them. */
export function statsText(s: Stats): string {
  const lb = s.load_balancer_stats
  return [
    `submitted ${s.tasks_submitted}  distributed ${s.tasks_distributed}  completed ${s.tasks_completed}  failed ${s.tasks_failed}  dead ${s.tasks_dead}  retried ${s.tasks_retried}  in flight ${s.tasks_in_flight}`,
    `avg distribution time ${s.avg_distribution_time.toFixed(3)} s`,
    `strategy ${lb.strategy}  active agents ${lb.active_agents}  assignments ${lb.total_assignments}  avg agent load ${lb.avg_agent_load.toFixed(2)}`,
    table(['QUEUE', 'TASKS'], Object.entries(s.queue_sizes).map(([p, n]) => [p, String(n)])),
  ].join('\n')
}

interface SubmitFlags {
  data: string
  priority: string
  requirements?: string
  timeout?: string
  maxRetries?: string
  idempotencyKey?: string
}

/** `aitbc-node tasks submit|get|status|queues|clear|dead|requeue`. */
export function taskCommands(program: Command, target: TargetOf): void {
  const tasks = program.command('tasks').description('submit and follow tasks')
  tasks
    .command('submit')
    .description('submit a task')
    .requiredOption('--data <json>', 'task_data as a JSON object')
    .option('--priority <p>', 'urgent, critical, high, normal or low', 'normal')
    .option('--requirements <json>', 'requirements as JSON, e.g. {"capabilities":["gpu"]}')
    .option('--timeout <ms>', 'lease per attempt (ms)')
    .option('--max-retries <n>', 'attempts after the first')
    .option('--idempotency-key <key>', 'a resubmit with the same key returns the first task')
    .action(async (o: SubmitFlags, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'POST', '/tasks/submit', {
        task_data: jsonArg('data', o.data),
        priority: o.priority,
        requirements: jsonArg('requirements', o.requirements) ?? {},
        timeout_ms: o.timeout === undefined ? undefined : Number(o.timeout),
        max_retries: o.maxRetries === undefined ? undefined : Number(o.maxRetries),
        idempotency_key: o.idempotencyKey,
      })
      print(t, res, () => `${res.message} (priority ${res.priority})`)
    })
  tasks
    .command('get')
    .description('one task: state, attempts, agent, result or error')
    .argument('<id>', 'task id')
    .action(async (id: string, _o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'GET', `/tasks/${encodeURIComponent(id)}`)
      print(t, res, () => {
        const task = res.task as Task
        return `${taskRows([task])}\nresult: ${JSON.stringify(task.result)}`
      })
    })
  tasks
    .command('status')
    .description('distribution statistics shared by all daemons')
    .action(async (_o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'GET', '/tasks/status')
      print(t, res, () => statsText(res.stats as Stats))
    })
  tasks
    .command('queues')
    .description('queue sizes by priority')
    .action(async (_o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'GET', '/tasks/queues')
      print(t, res, () => table(['QUEUE', 'TASKS'], Object.entries(res.queue_sizes as Record<string, number>).map(([p, n]) => [p, String(n)])))
    })
  tasks
    .command('clear')
    .description('end every queued task of a priority as failed (admin)')
    .argument('<priority>', 'urgent, critical, high, normal or low')
    .action(async (priority: string, _o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'POST', `/tasks/queues/${encodeURIComponent(priority)}/clear`)
      print(t, res, () => String(res.message))
    })
  tasks
    .command('dead')
    .description('dead-lettered tasks, newest first')
    .action(async (_o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'GET', '/tasks/dead')
      print(t, res, () => taskRows(res.tasks as Task[]))
    })
  tasks
    .command('requeue')
    .description('put a dead task back in its queue with fresh retries (admin)')
    .argument('<id>', 'task id')
    .action(async (id: string, _o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'POST', `/tasks/${encodeURIComponent(id)}/requeue`)
      print(t, res, () => String(res.message))
    })
}
