import type { Task } from '../../src/coordinator/tasks/task.js'
import { explain, get, post } from './api.js'
import { History, lineChart } from './chart.js'
import { $, alertIn, badge, el, item, plural, since, type Tone } from './dom.js'

interface Stats {
  tasks_submitted: number
  tasks_completed: number
  tasks_failed: number
  tasks_dead: number
  tasks_in_flight: number
  load_balancer_stats: { active_agents: number }
}
interface DeadTask { task_id: string, priority: string, error: string | null, attempts: number, finished_at: string | null }

const PRIORITIES = ['urgent', 'critical', 'high', 'normal', 'low'] as const
const TONE: Record<Task['state'], Tone> = { queued: 'degraded', assigned: 'degraded', running: 'degraded', completed: 'online', failed: 'offline', dead: 'offline' }
/** Ten minutes of samples at the panel's three-second refresh. */
const depths = new History(200)
const rates = new History(200)
let previous: { at: number, completed: number, failed: number } | null = null

const fail = (err: unknown, what: string): void => alertIn('tasks-error', explain(err, what, 'admin'))

/** Reads the queues, counters and dead letters again (every few seconds, and after each action). */
export async function refreshTasks(): Promise<void> {
  const [q, dead] = await Promise.all([
    get<{ queue_sizes: Record<string, number>, total_queued: number, stats: Stats }>('/tasks/queues/stats'),
    get<{ tasks: DeadTask[] }>('/tasks/dead?limit=20'),
  ])
  const s = q.stats
  const reports = s.tasks_completed + s.tasks_failed
  const failure = reports === 0 ? 0 : Math.round((s.tasks_failed / reports) * 1000) / 10
  const now = Date.now()
  depths.add({ at: now, values: Object.fromEntries(PRIORITIES.map((p) => [p, q.queue_sizes[p] ?? 0])) })
  if (previous !== null && now > previous.at) {
    const perMin = (n: number) => Math.max(0, Math.round((n * 60_000) / (now - previous!.at)))
    const completed = perMin(s.tasks_completed - previous.completed)
    rates.add({ at: now, values: { completed, failed: perMin(s.tasks_failed - previous.failed) } })
  }
  previous = { at: now, completed: s.tasks_completed, failed: s.tasks_failed }
  const throughput = rates.samples.at(-1)?.values.completed ?? 0
  $('tasks-summary').textContent = `${q.total_queued} queued, ${s.tasks_in_flight} running, ${s.tasks_completed} completed, `
    + `${s.tasks_failed} failed (${failure}%), ${s.tasks_dead} dead; ${throughput} completed/min now; ${s.load_balancer_stats.active_agents} active agents`
  $('tasks-summary').dataset.completed = String(s.tasks_completed)
  $('tasks-summary').dataset.submitted = String(s.tasks_submitted)
  $('failure-rate').textContent = `${failure}%`
  $('failure-rate').className = `state ${failure > 10 ? 'offline' : failure > 5 ? 'degraded' : 'online'}`
  $('queues').querySelector('tbody')!.replaceChildren(...PRIORITIES.map((p) => {
    const tr = el('tr')
    tr.dataset.priority = p
    tr.append(el('td', p), el('td', String(q.queue_sizes[p] ?? 0)))
    return tr
  }))
  lineChart($('depth-chart') as unknown as SVGSVGElement, depths.samples, PRIORITIES, 'queued')
  lineChart($('rate-chart') as unknown as SVGSVGElement, rates.samples, ['completed', 'failed'], 'per minute')
  $('dead-empty').hidden = dead.tasks.length > 0
  $('dead').replaceChildren(...dead.tasks.map((t) => {
    const li = el('li')
    li.dataset.task = t.task_id
    const open = el('button', t.task_id, { 'type': 'button', 'class': 'link', 'aria-label': `History of ${t.task_id}` })
    open.addEventListener('click', () => void showTask(t.task_id))
    const requeue = el('button', 'Requeue', { 'type': 'button', 'aria-label': `Requeue ${t.task_id}` })
    requeue.addEventListener('click', () => {
      post(`/tasks/${t.task_id}/requeue`, {}).then(() => refreshTasks(), (err: unknown) => fail(err, 'Requeue refused'))
    })
    li.append(open, ` (${t.priority}, ${plural(t.attempts, 'attempt')}, ${since(t.finished_at)}): ${t.error ?? 'no error given'} `, requeue)
    return li
  }))
}

/** One task's history from its record: submitted, assigned (with the attempt), and how it ended. */
export async function showTask(id: string): Promise<void> {
  $<HTMLInputElement>('task-id').value = id
  alertIn('task-error', null)
  let task: Task
  try {
    task = (await get<{ task: Task }>(`/tasks/${encodeURIComponent(id)}`)).task
  } catch (err) {
    $('task-view').hidden = true
    return alertIn('task-error', explain(err, `Task ${id}`))
  }
  $('task-view').hidden = false
  $('task-view').dataset.state = task.state
  $('task-state').replaceChildren(badge(task.state, TONE[task.state]), ` ${task.task_id}, ${task.priority}`)
  const steps = [item(`Submitted ${since(task.submitted_at)} through ${task.submitted_via}`)]
  if (task.assigned_at !== null) {
    steps.push(item(`Assigned to ${task.agent_id ?? 'an agent'} ${since(task.assigned_at)} (attempt ${task.attempts} of ${task.max_retries + 1})`))
  } else if (task.attempts > 0) {
    steps.push(item(`Tried ${task.attempts} of ${task.max_retries + 1} times; waiting for an agent again`))
  }
  if (task.state === 'running' || task.state === 'assigned') steps.push(item(`Running; its lease ends ${task.lease_until ?? 'when reported'}`))
  if (task.finished_at !== null) {
    const how = task.state === 'completed' ? `Completed ${since(task.finished_at)}` : `Ended ${task.state} ${since(task.finished_at)}`
    steps.push(item(task.error === null ? how : `${how}: ${task.error}`))
  }
  if (task.state === 'queued') steps.push(item('Queued: waiting for an agent that meets its requirements'))
  $('task-history').replaceChildren(...steps)
  $('task-result').textContent = task.result === null ? '' : `Result: ${JSON.stringify(task.result).slice(0, 2000)}`
}

export function setUpTasks(): void {
  $('submit-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const priority = $<HTMLSelectElement>('submit-priority').value
    post<{ task_id: string }>('/tasks/submit', { task_data: { test: true, from: 'dashboard' }, priority })
      .then((r) => {
        $('submit-result').textContent = `Submitted ${r.task_id}`
        $('submit-result').dataset.task = r.task_id
        void showTask(r.task_id)
        return refreshTasks()
      }, (err: unknown) => alertIn('tasks-error', explain(err, 'Submit refused', 'agent or operate')))
  })
  $('task-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const id = $<HTMLInputElement>('task-id').value.trim()
    if (id !== '') void showTask(id)
  })
}
