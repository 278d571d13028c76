import { ApiFailure, get, token } from './api.js'
import { refreshAgents, setUpAgents } from './agents.js'
import { setUpOperations } from './operations.js'
import { refreshTasks, setUpTasks } from './tasks.js'
import './style.css'

interface NodeRow {
  name: string
  status: 'online' | 'degraded' | 'offline'
  block_height: number | null
  mempool_size: number | null
  p2p_connections: number | null
  service_uptime: string | null
  version: string | null
  last_seen_ms: number | null
  reason: string | null
  registry_mismatch: string | null
  self: boolean
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const show = (id: string, visible: boolean): void => {
  $(id).hidden = !visible
}

function ago(ms: number | null): string {
  if (ms === null) return 'never'
  if (ms < 1500) return 'just now'
  if (ms < 90_000) return `${Math.round(ms / 1000)} s ago`
  return `${Math.round(ms / 60_000)} min ago`
}

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement('td')
  td.textContent = text
  if (className !== undefined) td.className = className
  return td
}

function render(rows: NodeRow[]): void {
  const body = $('nodes').querySelector('tbody')!
  body.replaceChildren(...rows.map((n) => {
    const tr = document.createElement('tr')
    tr.dataset.node = n.name
    tr.dataset.state = n.status
    const name = cell(n.self ? `${n.name} (this daemon)` : n.name)
    const state = document.createElement('td')
    const badge = document.createElement('span')
    badge.className = `state ${n.status}`
    badge.textContent = n.status
    state.append(badge)
    const why = n.registry_mismatch ?? n.reason
    if (why !== null) {
      const reason = document.createElement('div')
      reason.className = 'reason'
      reason.textContent = why
      state.append(reason)
    }
    tr.append(
      name, state, cell(String(n.block_height ?? '–')), cell(String(n.mempool_size ?? '–')), cell(String(n.p2p_connections ?? '–')),
      cell(n.service_uptime ?? '–'), cell(n.version ?? '–'), cell(n.self ? 'this daemon' : ago(n.last_seen_ms)),
    )
    return tr
  }))
  const count = (s: string) => rows.filter((r) => r.status === s).length
  $('summary').textContent = `${count('online')} online, ${count('degraded')} degraded, ${count('offline')} offline`
}

let timer: number | undefined
let ticks = 0

async function refresh(): Promise<void> {
  try {
    const res = await get<{ nodes_status: Record<string, NodeRow> }>('/nodes')
    render(Object.values(res.nodes_status))
    show('cluster-error', false)
    // The task figures change more slowly than the nodes: every third refresh.
    if (ticks++ % 3 === 0) await Promise.all([refreshTasks().catch(() => {}), refreshAgents().catch(() => {})])
  } catch (err) {
    if (err instanceof ApiFailure && (err.status === 401 || err.status === 403)) return signIn(`${err.message}: enter a token with read scope.`)
    $('cluster-error').textContent = `The daemon did not answer (${(err as Error).message}); retrying every second.`
    show('cluster-error', true)
  }
  timer = window.setTimeout(() => void refresh(), 1000)
}

function signIn(problem?: string): void {
  window.clearTimeout(timer)
  show('cluster', false)
  show('operations', false)
  show('tasks', false)
  show('agents', false)
  show('signout', false)
  show('login', true)
  $('login-error').textContent = problem ?? ''
  show('login-error', problem !== undefined)
  $<HTMLInputElement>('token').focus()
}

async function open(): Promise<void> {
  show('login', false)
  show('cluster', true)
  show('operations', true)
  show('tasks', true)
  show('agents', true)
  show('signout', token.get() !== null)
  await refresh()
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const value = $<HTMLInputElement>('token').value.trim()
  if (value === '') return
  token.set(value)
  void open()
})
$('signout').addEventListener('click', () => {
  token.clear()
  signIn()
})

void get<{ node?: string }>('/health').then((h) => {
  $('self').textContent = h.node === undefined ? '' : `via ${h.node}`
}, () => {})
setUpOperations()
setUpTasks()
setUpAgents()
void open()
