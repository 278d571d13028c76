import type { Task } from '../../src/coordinator/tasks/task.js'
import { explain, get, post } from './api.js'
import { History, lineChart } from './chart.js'
import { $, alertIn, el, plural, since } from './dom.js'
import { showTask } from './task-view.js'
import { type CounterReading, perMinute } from './throughput.js'

interface Stats {
  tasks_submitted: number
  tasks_completed: number
  tasks_failed: number
  tasks_dead: number
  tasks_in_flight: number
  load_balancer_stats: { active_agents: number }
}
type DeadTask = Pick<Task, 'task_id' | 'priority' | 'error' | 'attempts' | 'finished_at'>
/** GET /tasks/queues/stats?dead=N: every figure of the panel from one read. */
interface Snapshot {
  queue_sizes: Record<string, number>
  total_queued: number
  stats: Stats
  dead_letters: { count: number, tasks: DeadTask[] }
}

const PRIORITIES = ['urgent', 'critical', 'high', 'normal', 'low'] as const
const RATES = ['completed', 'failed'] as const
const DEAD_SHOWN = 20
/** Ten minutes of samples at the panel's three-second refresh. */
const depths = new History(200)
const counters = new History<CounterReading>(200)

const fail = (err: unknown, what: string): void => alertIn('tasks-error', explain(err, what, 'admin'))
/** Follows one task; when its state moves the panel reads its figures again, so that they agree with it. */
const follow = (id: string): Promise<void> => showTask(id, () => {
  refreshTasks().catch((err: unknown) => alertIn('tasks-error', explain(err, 'The task figures')))
})

function deadList(dead: Snapshot['dead_letters']): void {
  $('dead-empty').hidden = dead.count > 0
  $('dead-count').textContent = dead.count === 0 ? '' : dead.count > dead.tasks.length
    ? `${plural(dead.count, 'dead letter')}; the newest ${dead.tasks.length} are shown.` : `${plural(dead.count, 'dead letter')}.`
  $('dead').replaceChildren(...dead.tasks.map((t) => {
    const li = el('li')
    li.dataset.task = t.task_id
    const open = el('button', t.task_id, { 'type': 'button', 'class': 'link', 'aria-label': `History of ${t.task_id}` })
    open.addEventListener('click', () => void follow(t.task_id))
    const requeue = el('button', 'Requeue', { 'type': 'button', 'aria-label': `Requeue ${t.task_id}` })
    requeue.addEventListener('click', () => {
      post(`/tasks/${t.task_id}/requeue`, {}).then(() => refreshTasks(), (err: unknown) => fail(err, 'Requeue refused'))
    })
    li.append(open, ` (${t.priority}, ${plural(t.attempts, 'attempt')}, ${since(t.finished_at)}): ${t.error ?? 'no error given'} `, requeue)
    return li
  }))
}

/**
 * Reads the queues, counters and dead letters again (every few seconds, and after each action), all
 * from one answer of the daemon, so that the summary, the tables and the lists never disagree.
 */
export async function refreshTasks(): Promise<void> {
  const q = await get<Snapshot>(`/tasks/queues/stats?dead=${DEAD_SHOWN}`)
  const s = q.stats
  // A task ends completed, failed, or out of retries (dead-lettered; a requeue can give it another ending).
  const badEndings = s.tasks_failed + s.tasks_dead
  const endings = s.tasks_completed + badEndings
  const failure = endings === 0 ? 0 : Math.round((badEndings / endings) * 1000) / 10
  const now = Date.now()
  depths.add({ at: now, values: Object.fromEntries(PRIORITIES.map((p) => [p, q.queue_sizes[p] ?? 0])) })
  counters.add({ at: now, counts: { completed: s.tasks_completed, failed: badEndings } })
  const rates = perMinute(counters.samples, RATES)
  const lastMinute = rates.at(-1)?.values.completed
  const summary = $('tasks-summary')
  summary.textContent = `${q.total_queued} queued, ${s.tasks_in_flight} running; ${q.dead_letters.count} dead ${q.dead_letters.count === 1 ? 'letter' : 'letters'} waiting; `
    + `ended so far: ${s.tasks_completed} completed, ${s.tasks_failed} failed, ${s.tasks_dead} out of retries (${failure}% not completed); `
    + `${lastMinute === undefined ? 'throughput: collecting figures' : `${lastMinute} completed in the last minute`}; ${plural(s.load_balancer_stats.active_agents, 'active agent')}`
  summary.dataset.completed = String(s.tasks_completed)
  summary.dataset.submitted = String(s.tasks_submitted)
  summary.dataset.dead = String(q.dead_letters.count)
  $('failure-rate').textContent = `${failure}%`
  $('failure-rate').className = `state ${failure > 10 ? 'offline' : failure > 5 ? 'degraded' : 'online'}`
  $('queues').querySelector('tbody')!.replaceChildren(...PRIORITIES.map((p) => {
    const tr = el('tr')
    tr.dataset.priority = p
    tr.append(el('td', p), el('td', String(q.queue_sizes[p] ?? 0)))
    return tr
  }))
  lineChart($('depth-chart') as unknown as SVGSVGElement, depths.samples, PRIORITIES, { y: 'tasks queued' })
  lineChart($('rate-chart') as unknown as SVGSVGElement, rates, RATES, { y: 'tasks per minute' })
  deadList(q.dead_letters)
}

export function setUpTasks(): void {
  $('submit-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const priority = $<HTMLSelectElement>('submit-priority').value
    post<{ task_id: string }>('/tasks/submit', { task_data: { test: true, from: 'dashboard' }, priority })
      .then((r) => {
        $('submit-result').textContent = `Submitted ${r.task_id}`
        $('submit-result').dataset.task = r.task_id
        void follow(r.task_id)
        return refreshTasks()
      }, (err: unknown) => alertIn('tasks-error', explain(err, 'Submit refused', 'agent or operate')))
  })
  $('task-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const id = $<HTMLInputElement>('task-id').value.trim()
    if (id !== '') void follow(id)
  })
}
