import { ApiFailure, get, post } from './api.js'

interface Stats {
  tasks_submitted: number
  tasks_completed: number
  tasks_failed: number
  tasks_dead: number
  tasks_in_flight: number
  load_balancer_stats: { active_agents: number }
}
interface DeadTask { task_id: string, priority: string, error: string | null, attempts: number, finished_at: string | null }

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const PRIORITIES = ['urgent', 'critical', 'high', 'normal', 'low']

function fail(err: unknown, what: string): void {
  const scope = err instanceof ApiFailure && err.status === 403
  $('tasks-error').textContent = scope ? `${what}: ${err.message} (this token lacks the scope for it)` : `${what}: ${(err as Error).message}`
  $('tasks-error').hidden = false
}

/** Reads the queues, counters and dead letters again (every few seconds, and after each action). */
export async function refreshTasks(): Promise<void> {
  const [q, dead] = await Promise.all([
    get<{ queue_sizes: Record<string, number>, total_queued: number, stats: Stats }>('/tasks/queues/stats'),
    get<{ tasks: DeadTask[] }>('/tasks/dead?limit=20'),
  ])
  const s = q.stats
  const reports = s.tasks_completed + s.tasks_failed
  const failure = reports === 0 ? 0 : Math.round((s.tasks_failed / reports) * 1000) / 10
  $('tasks-summary').textContent = `${q.total_queued} queued, ${s.tasks_in_flight} running, ${s.tasks_completed} completed, `
    + `${s.tasks_failed} failed (${failure}%), ${s.tasks_dead} dead; ${s.load_balancer_stats.active_agents} active agents`
  $('tasks-summary').dataset.completed = String(s.tasks_completed)
  $('tasks-summary').dataset.submitted = String(s.tasks_submitted)
  $('queues').querySelector('tbody')!.replaceChildren(...PRIORITIES.map((p) => {
    const tr = document.createElement('tr')
    tr.dataset.priority = p
    const name = document.createElement('td')
    name.textContent = p
    const n = document.createElement('td')
    n.textContent = String(q.queue_sizes[p] ?? 0)
    tr.append(name, n)
    return tr
  }))
  $('dead-empty').hidden = dead.tasks.length > 0
  $('dead').replaceChildren(...dead.tasks.map((t) => {
    const li = document.createElement('li')
    li.dataset.task = t.task_id
    const text = document.createElement('span')
    text.textContent = `${t.task_id} (${t.priority}, ${t.attempts} attempts): ${t.error ?? 'no error given'} `
    const requeue = document.createElement('button')
    requeue.type = 'button'
    requeue.textContent = 'Requeue'
    requeue.setAttribute('aria-label', `Requeue ${t.task_id}`)
    requeue.addEventListener('click', () => {
      post(`/tasks/${t.task_id}/requeue`, {}).then(() => refreshTasks(), (err: unknown) => fail(err, 'Requeue refused'))
    })
    li.append(text, requeue)
    return li
  }))
}

export function setUpTasks(): void {
  $('submit-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const priority = $<HTMLSelectElement>('submit-priority').value
    post<{ task_id: string }>('/tasks/submit', { task_data: { test: true, from: 'dashboard' }, priority })
      .then((r) => {
        $('submit-result').textContent = `Submitted ${r.task_id}`
        $('submit-result').dataset.task = r.task_id
        return refreshTasks()
      }, (err: unknown) => fail(err, 'Submit refused'))
  })
}
