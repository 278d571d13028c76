import type { Task } from '../../src/coordinator/tasks/task.js'
import { explain, get } from './api.js'
import { $, alertIn, badge, item, since, type Tone } from './dom.js'

const TONE: Record<Task['state'], Tone> = { queued: 'degraded', assigned: 'degraded', running: 'degraded', completed: 'online', failed: 'offline', dead: 'offline' }
/** States a task never leaves by itself (a dead one only by a requeue). */
const FINAL: ReadonlySet<Task['state']> = new Set(['completed', 'failed', 'dead'])
/** How long a task page follows a task that does not end; then it says so and stops reading. */
const FOLLOW_MS = 10 * 60_000
const FIRST_GAP_MS = 500
const MAX_GAP_MS = 5000

/** The task the view follows now; showing another stops following this one. */
let following: AbortController | null = null

function render(task: Task): void {
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

const pause = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, ms)
  signal.addEventListener('abort', () => {
    clearTimeout(timer)
    resolve()
  }, { once: true })
})

/**
 * One task's history from its record, read again (every 0.5 s, backing off to 5 s) until the
 * task ends, so that the page never shows a task running that has finished; after 10 minutes
 * it stops and says so. `changed` runs when the task's state moves, for the panel's counts to follow.
 */
export async function showTask(id: string, changed?: () => void): Promise<void> {
  following?.abort()
  const mine = new AbortController()
  following = mine
  $<HTMLInputElement>('task-id').value = id
  alertIn('task-error', null)
  const until = Date.now() + FOLLOW_MS
  let last: Task['state'] | null = null
  for (let gap = FIRST_GAP_MS; !mine.signal.aborted; gap = Math.min(MAX_GAP_MS, gap * 1.5)) {
    let task: Task
    try {
      task = (await get<{ task: Task }>(`/tasks/${encodeURIComponent(id)}`)).task
    } catch (err) {
      if (mine.signal.aborted) return
      $('task-view').hidden = true
      return alertIn('task-error', explain(err, `Task ${id}`))
    }
    if (mine.signal.aborted) return
    render(task)
    if (last !== null && last !== task.state) changed?.()
    last = task.state
    const done = FINAL.has(task.state)
    const over = !done && Date.now() + gap > until
    $('task-view').dataset.following = String(!done && !over)
    $('task-follow').textContent = done ? '' : over
      ? `Stopped following after ${FOLLOW_MS / 60_000} minutes; show its history again to read it now.`
      : 'Following: read again every few seconds until it ends.'
    if (done || over) return
    await pause(gap, mine.signal)
  }
}
