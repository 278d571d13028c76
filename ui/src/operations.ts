import { explain, follow, get, post } from './api.js'
import { $, alertIn, badge, cell, el, emptyRow, fillOptions, item, since, type Tone } from './dom.js'
import { forceEffect } from './force-effects.js'
import { type OpReport, showReport } from './op-report.js'

interface OpEvent { node: string | null, step: string, detail: string }
interface JournalLine {
  op_id: string
  operation: string
  target_node: string
  sync_type?: string
  action?: string
  force: boolean
  node: string
  state: 'queued' | 'running' | 'done' | 'interrupted'
  created_at: string
  created_ms: number
  validation_status: 'success' | 'partial' | 'failed' | null
  summary: string | null
}

const VERDICT: Record<string, Tone> = { success: 'online', partial: 'degraded', failed: 'offline' }
/** The operation the panel follows now; opening another stops following this one. */
let following: AbortController | null = null
let journalPages: JournalLine[] = []
let olderFrom: number | null = null

const describe = (l: Pick<JournalLine, 'operation' | 'sync_type' | 'action' | 'force' | 'target_node'>): string =>
  `${l.operation}${l.sync_type === undefined ? '' : ` ${l.sync_type}`}${l.action === undefined ? '' : ` ${l.action}`}${l.force ? ' (force)' : ''} on ${l.target_node}`

/** Follows one operation's events (from the start: a finished one replays) and shows its report, issues first. */
async function view(id: string, title: string): Promise<void> {
  following?.abort()
  const mine = new AbortController()
  following = mine
  $('op-run').hidden = false
  $('op-run').dataset.op = id
  $('op-title').textContent = `${title} (${id})`
  $('op-log').replaceChildren()
  $('op-report').hidden = true
  alertIn('op-error', null)
  try {
    await follow(`/ops/${id}/events`, (type, data) => {
      if (mine.signal.aborted) return
      if (type === 'progress') {
        const e = data as OpEvent
        const li = item(`${e.node ?? 'cluster'} ${e.step}: ${e.detail}`)
        if (e.node !== null) li.dataset.node = e.node
        $('op-log').append(li)
      } else if (type === 'done') {
        showReport(data as OpReport | null)
        void refreshJournal().catch(() => {})
      }
    }, mine.signal)
  } catch (err) {
    if (!mine.signal.aborted) alertIn('op-error', `${explain(err, 'Lost the operation\'s progress')}; GET /ops/${id} has its record.`)
  }
}

async function start(title: string, body: Record<string, unknown>): Promise<void> {
  alertIn('op-error', null)
  let started: { op_id: string }
  try {
    started = await post<{ op_id: string }>('/ops?wait=0', body)
  } catch (err) {
    return alertIn('op-error', explain(err, 'The operation did not start', 'operate'))
  }
  void refreshJournal().catch(() => {})
  await view(started.op_id, title)
}

/** Seed 000: never force without asking, and say what force will do for this operation. */
const confirmForce = (what: string, operation: string, syncType?: string): boolean =>
  window.confirm(`${what} with force? What force does here:\n${forceEffect(operation, syncType)}`)

function journalRow(l: JournalLine): HTMLTableRowElement {
  const tr = el('tr')
  tr.dataset.op = l.op_id
  tr.dataset.state = l.state
  const verdict = l.validation_status ?? (l.state === 'done' || l.state === 'interrupted' ? 'interrupted' : l.state)
  const open = el('button', 'Open', { 'type': 'button', 'aria-label': `Open operation ${l.op_id}` })
  open.addEventListener('click', () => void view(l.op_id, describe(l)))
  tr.append(
    cell(since(l.created_at)), cell(describe(l)), cell(l.node), cell(badge(verdict, VERDICT[verdict] ?? 'degraded')),
    cell(l.summary ?? '–', 'wrap'), cell(open),
  )
  return tr
}

function renderJournal(): void {
  $('journal').querySelector('tbody')!.replaceChildren(...(journalPages.length === 0
    ? [emptyRow(6, 'No operations in the journal yet: start one above.')] : journalPages.map(journalRow)))
  $('journal-older').hidden = olderFrom === null
}

/** The journal's first page again (every few seconds, unless older pages are open): operations started on any daemon. */
export async function refreshJournal(force = true): Promise<void> {
  if (!force && journalPages.length > 20) return
  const res = await get<{ operations: JournalLine[], next_before: number | null }>('/ops?limit=20')
  journalPages = res.operations
  olderFrom = res.next_before
  renderJournal()
}

/** Fills the target list with all and every node's name. */
export const setOpTargets = (names: string[]): void => fillOptions($<HTMLSelectElement>('op-target'), ['all', ...names])

function formFields(): void {
  const op = $<HTMLSelectElement>('op-kind').value
  $('op-sync-field').hidden = op !== 'sync'
  $('op-message-field').hidden = op !== 'message'
  $('op-action-field').hidden = op !== 'coordinate'
}

export function setUpOperations(): void {
  $('op-status').addEventListener('click', () => {
    void start('Check status of all nodes', { operation: 'status', target_node: 'all' })
  })
  $('op-sync-git').addEventListener('click', () => {
    if (!confirmForce('Sync the git repository on every node', 'sync', 'git')) return
    void start('Sync git repository across all nodes (force)', { operation: 'sync', sync_type: 'git', target_node: 'all', force: true })
  })
  $('op-kind').addEventListener('change', formFields)
  formFields()
  $('op-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const operation = $<HTMLSelectElement>('op-kind').value
    const body: Record<string, unknown> = { operation, target_node: $<HTMLSelectElement>('op-target').value }
    if (operation === 'sync') body.sync_type = $<HTMLSelectElement>('op-sync-type').value
    if (operation === 'message') body.message = $<HTMLTextAreaElement>('op-message').value
    if (operation === 'coordinate') body.action = $<HTMLInputElement>('op-action').value.trim()
    const timeout = Number($<HTMLInputElement>('op-timeout').value)
    if ($<HTMLInputElement>('op-timeout').value !== '' && timeout > 0) body.timeout = timeout
    body.force = $<HTMLInputElement>('op-force').checked
    const title = describe({ operation, target_node: String(body.target_node), force: body.force === true,
      sync_type: body.sync_type as string | undefined, action: body.action as string | undefined })
    if (body.force === true && !confirmForce(`Run ${title}`, operation, body.sync_type as string | undefined)) return
    void start(title, body)
  })
  $('journal-older').addEventListener('click', () => {
    if (olderFrom === null) return
    get<{ operations: JournalLine[], next_before: number | null }>(`/ops?limit=20&before=${olderFrom}`).then((res) => {
      journalPages = [...journalPages, ...res.operations]
      olderFrom = res.next_before
      renderJournal()
    }, (err: unknown) => alertIn('op-error', explain(err, 'The journal')))
  })
}
