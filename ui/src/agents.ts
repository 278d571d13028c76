import { ApiFailure, call, post } from './api.js'

interface Agent {
  agent_id: string
  agent_type: string
  status: string
  health_score: number
  capabilities: string[]
  last_heartbeat: string
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const STATUSES = ['active', 'inactive', 'busy', 'maintenance', 'error']
const COLOUR: Record<string, string> = { active: 'online', busy: 'online', maintenance: 'degraded', inactive: 'degraded', error: 'offline', stale: 'offline' }

function fail(err: unknown, what: string): void {
  const scope = err instanceof ApiFailure && err.status === 403
  $('agents-error').textContent = scope ? `${what}: ${err.message} (this needs a token with agent scope)` : `${what}: ${(err as Error).message}`
  $('agents-error').hidden = false
}

function cell(content: string | Node): HTMLTableCellElement {
  const td = document.createElement('td')
  td.append(content)
  return td
}

function since(iso: string): string {
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000)
  return s < 90 ? `${Math.max(0, s)} s ago` : `${Math.round(s / 60)} min ago`
}

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
  const badge = document.createElement('span')
  badge.className = `state ${COLOUR[a.status] ?? 'degraded'}`
  badge.textContent = a.status
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
    cell(a.agent_id), cell(a.agent_type), cell(badge), cell(a.health_score.toFixed(2)),
    cell(a.capabilities.join(', ') || '–'), cell(since(a.last_heartbeat)), actions,
  )
  return tr
}

/** Reads the registry again; the periodic refresh skips it while the user works in the table (a select or button focused). */
export async function refreshAgents(force = false): Promise<void> {
  if (!force && $('agent-list').contains(document.activeElement)) return
  const res = await post<{ agents: Agent[] }>('/agents/discover', query())
  $('agents-summary').textContent = res.agents.length === 0 ? 'No agent matches.' : `${res.agents.length} agents`
  $('agent-list').querySelector('tbody')!.replaceChildren(...res.agents.map(row))
}

export function setUpAgents(): void {
  $('agent-filter').addEventListener('submit', (e) => {
    e.preventDefault()
    $('agents-error').hidden = true
    refreshAgents(true).catch((err: unknown) => fail(err, 'Filter refused'))
  })
}
