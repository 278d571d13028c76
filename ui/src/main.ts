import { ApiFailure, explain, get, token } from './api.js'
import { refreshAgents, setUpAgents } from './agents.js'
import { refreshCluster } from './cluster.js'
import { $, alertIn } from './dom.js'
import { refreshInbox, setTargets, setUpMessages } from './messages.js'
import { refreshJournal, setOpTargets, setUpOperations } from './operations.js'
import { refreshTasks, setUpTasks } from './tasks.js'
import './style.css'

const PANELS = ['cluster', 'agents', 'tasks', 'operations', 'messages']
const show = (id: string, visible: boolean): void => {
  $(id).hidden = !visible
}

let timer: number | undefined
let ticks = 0

/** The slower panels, every third refresh; each keeps its own error line. */
function refreshPanels(): Promise<unknown> {
  const quietly = (p: Promise<void>, alert: string, what: string) =>
    p.then(() => alertIn(alert, null), (err: unknown) => {
      if (!(err instanceof ApiFailure && err.status === 401)) alertIn(alert, explain(err, what))
    })
  return Promise.all([
    quietly(refreshTasks(), 'tasks-error', 'The task figures'),
    quietly(refreshAgents(), 'agents-error', 'The registry'),
    quietly(refreshJournal(false), 'journal-error', 'The journal'),
    quietly(refreshInbox(), 'inbox-error', 'The inbox'),
  ])
}

async function refresh(): Promise<void> {
  try {
    const rows = await refreshCluster()
    const others = rows.filter((r) => !r.self).map((r) => r.name)
    setTargets(others)
    setOpTargets(rows.map((r) => r.name))
    alertIn('cluster-error', null)
    if (ticks++ % 3 === 0) await refreshPanels()
  } catch (err) {
    if (err instanceof ApiFailure && (err.status === 401 || err.status === 403)) return signIn(`${err.message}: enter a token with read scope.`)
    alertIn('cluster-error', `The daemon did not answer (${(err as Error).message}); retrying every second.`)
  }
  timer = window.setTimeout(() => void refresh(), 1000)
}

function signIn(problem?: string): void {
  window.clearTimeout(timer)
  for (const p of PANELS) show(p, false)
  show('nav', false)
  show('signout', false)
  show('login', true)
  alertIn('login-error', problem ?? null)
  $<HTMLInputElement>('token').focus()
}

async function open(): Promise<void> {
  show('login', false)
  for (const p of PANELS) show(p, true)
  show('nav', true)
  show('signout', token.get() !== null)
  ticks = 0
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
setUpMessages()
void open()
