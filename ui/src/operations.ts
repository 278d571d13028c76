import { ApiFailure, follow, post } from './api.js'

interface OpEvent { node: string | null, step: string, detail: string }
interface OpIssue { node: string, step: string, error: string, suggestion: string }
interface OpReport { summary: string, validation_status: string, issues: OpIssue[], recommendations: string[] }

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T

function item(text: string): HTMLLIElement {
  const li = document.createElement('li')
  li.textContent = text
  return li
}

const VERDICT: Record<string, string> = { success: 'online', partial: 'degraded', failed: 'offline' }

async function run(title: string, body: Record<string, unknown>): Promise<void> {
  const error = $('op-error')
  error.hidden = true
  const buttons = [$<HTMLButtonElement>('op-status'), $<HTMLButtonElement>('op-sync-git')]
  let started: { op_id: string, events: string }
  try {
    started = await post<{ op_id: string, events: string }>('/ops?wait=0', body)
  } catch (err) {
    const forbidden = err instanceof ApiFailure && err.status === 403
    error.textContent = forbidden
      ? `This token may not start operations (${err.message}); sign in with a token that has operate scope.`
      : `The operation did not start: ${(err as Error).message}`
    error.hidden = false
    return
  }
  for (const b of buttons) b.disabled = true
  $('op-run').hidden = false
  $('op-title').textContent = `${title} (${started.op_id})`
  $('op-log').replaceChildren()
  $('op-report').hidden = true
  try {
    await follow(started.events, (type, data) => {
      if (type === 'progress') {
        const e = data as OpEvent
        const li = item(`${e.node ?? 'cluster'} ${e.step}: ${e.detail}`)
        if (e.node !== null) li.dataset.node = e.node
        $('op-log').append(li)
      } else if (type === 'done') {
        const r = data as OpReport | null
        $('op-report').hidden = false
        const verdict = $('op-verdict')
        verdict.textContent = r?.validation_status ?? 'interrupted'
        verdict.className = `state ${VERDICT[r?.validation_status ?? 'failed'] ?? 'offline'}`
        $('op-summary').textContent = r?.summary ?? 'the daemon running it stopped before it finished'
        // Issues first, each with what to do about it.
        const issues = r?.issues ?? []
        $('op-issues').replaceChildren(...(issues.length > 0 ? issues.map((i) => item(`${i.node} ${i.step}: ${i.error} (${i.suggestion})`)) : [item('none')]))
        $('op-recommendations').replaceChildren(...(r?.recommendations.length ? r.recommendations.map(item) : [item('none')]))
      }
    })
  } catch (err) {
    error.textContent = `Lost the operation's progress: ${(err as Error).message}; GET /ops/${started.op_id} has its record.`
    error.hidden = false
  } finally {
    for (const b of buttons) b.disabled = false
  }
}

export function setUpOperations(): void {
  $('op-status').addEventListener('click', () => {
    void run('Check status of all nodes', { operation: 'status', target_node: 'all' })
  })
  $('op-sync-git').addEventListener('click', () => {
    // Seed 000: never force without asking.
    if (!window.confirm('Sync the git repository on every node with force? Local changes on the nodes are overwritten.')) return
    void run('Sync git repository across all nodes (force)', { operation: 'sync', sync_type: 'git', target_node: 'all', force: true })
  })
}
