import { call, explain, post } from './api.js'
import { $, alertIn, badge, cell, emptyRow, since, type Tone } from './dom.js'

interface Agent {
  agent_id: string
  agent_type: string
  status: string
  health_score: number
  load: number
  in_flight: number
  capabilities: string[]
  last_heartbeat: string
}

const STATUSES = ['active', 'inactive', 'busy', 'maintenance', 'error']
const COLOUR: Record<string, Tone> = { active: 'online', busy: 'online', maintenance: 'degraded', inactive: 'degraded', error: 'offline', stale: 'offline' }

const fail = (err: unknown, what: string): void => alertIn('agents-error', explain(err, what, 'admin'))

function query(): Record<string, unknown> {
  const q: Record<string, unknown> = { limit: 200 }
  const type = $<HTMLInputElement>('filter-type').value.trim()
  const capability = $<HTMLInputElement>('filter-capability').value.trim()
  const status = $<HTMLSelectElement>('filter-status').value
  if (type !== '') q.agent_type = type
  if (capability !== '') q.capabilities = [capability]
  if (status !== '') q.status = status
  return q
}

function row(a: Agent): HTMLTableRowElement {
  const tr = document.createElement('tr')
  tr.dataset.agent = a.agent_id
  tr.dataset.status = a.status
  const select = document.createElement('select')
  select.setAttribute('aria-label', `Status of ${a.agent_id}`)
  for (const s of STATUSES) {
    const o = document.createElement('option')
    o.textContent = s
    o.selected = s === a.status
    select.append(o)
  }
  const set = document.createElement('button')
  set.type = 'button'
  set.textContent = 'Set'
  set.setAttribute('aria-label', `Set the status of ${a.agent_id}`)
  set.addEventListener('click', () => {
    call('PUT', `/agents/${encodeURIComponent(a.agent_id)}/status`, { status: select.value })
      .then(() => refreshAgents(true), (err: unknown) => fail(err, 'Status change refused'))
  })
  const remove = document.createElement('button')
  remove.type = 'button'
  remove.textContent = 'Remove'
  remove.setAttribute('aria-label', `Remove ${a.agent_id}`)
  remove.addEventListener('click', () => {
    if (!window.confirm(`Remove agent ${a.agent_id} from the registry? Its running tasks go back to their queues after their lease.`)) return
    call('DELETE', `/agents/${encodeURIComponent(a.agent_id)}`).then(() => refreshAgents(true), (err: unknown) => fail(err, 'Remove refused'))
  })
  const actions = document.createElement('td')
  actions.append(select, set, remove)
  tr.append(
    cell(a.agent_id), cell(a.agent_type), cell(badge(a.status, COLOUR[a.status] ?? 'degraded')), cell(a.health_score.toFixed(2)),
    cell(`${Math.round(a.load)}%`), cell(String(a.in_flight)), cell(a.capabilities.join(', ') || '–'), cell(since(a.last_heartbeat)), actions,
  )
  return tr
}

/** Reads the registry again; the periodic refresh skips it while the user works in the table (a select or button focused). */
export async function refreshAgents(force = false): Promise<void> {
  if (!force && $('agent-list').contains(document.activeElement)) return
  const res = await post<{ agents: Agent[] }>('/agents/discover', query())
  $('agents-summary').textContent = `${res.agents.length} agents`
  $('agent-list').querySelector('tbody')!.replaceChildren(...(res.agents.length === 0
    ? [emptyRow(9, 'No agent matches: agents appear here once they register (POST /agents/register).')] : res.agents.map(row)))
}

export function setUpAgents(): void {
  $('agent-filter').addEventListener('submit', (e) => {
    e.preventDefault()
    alertIn('agents-error', null)
    refreshAgents(true).catch((err: unknown) => fail(err, 'Filter refused'))
  })
}
