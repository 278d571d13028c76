import { $, badge, cell, el, emptyRow, item, type Tone } from './dom.js'

interface NodeLine {
  status: Tone
  block_height: number | null
  mempool_size: number | null
  p2p_connections: number | null
  service_uptime: string | null
  last_sync: number | null
}
interface OpIssue { node: string, step: string, error: string, suggestion: string }
/** Seed 000's report as GET /ops/:id and the stream's done event give it. */
export interface OpReport {
  summary: string
  validation_status: string
  nodes_status: Record<string, NodeLine>
  sync_details?: Record<string, boolean>
  issues: OpIssue[]
  recommendations: string[]
  confidence: number
  execution_time: number
  details?: Record<string, Record<string, unknown>>
}

const VERDICT: Record<string, Tone> = { success: 'online', partial: 'degraded', failed: 'offline' }
const figure = (v: unknown): string => (v === null || v === undefined ? '–' : String(v))
/** last_sync is seconds since the epoch in seed 000's example. */
const when = (s: number | null): string => (s === null ? '–' : new Date(s < 1e12 ? s * 1000 : s).toISOString().replace('T', ' ').slice(0, 19))

function nodesTable(nodes: Record<string, NodeLine>): void {
  const rows = Object.entries(nodes)
  $('op-nodes').querySelector('tbody')!.replaceChildren(...(rows.length === 0 ? [emptyRow(7, 'The report names no node.')] : rows.map(([name, n]) => {
    const tr = el('tr')
    tr.dataset.node = name
    tr.dataset.state = n.status
    tr.append(cell(name), cell(badge(n.status, n.status)), cell(figure(n.block_height)), cell(figure(n.mempool_size)),
      cell(figure(n.p2p_connections)), cell(figure(n.service_uptime)), cell(when(n.last_sync)))
    return tr
  })))
}

/** One check of a node as the health report gives it: ok or not, and what it found. */
function check(name: string, value: unknown): HTMLLIElement {
  const li = item(`${name.replace(/_ms$/, ' (ms)').replace(/_/g, ' ')}: ${said(value)}`)
  li.dataset.check = name
  if ((value as { ok?: unknown } | null)?.ok === false) li.className = 'warn'
  return li
}

/** One figure of a check, in units a person reads (bytes as GiB/MiB). */
function fact(key: string, v: unknown): string {
  if (typeof v === 'number' && key.endsWith('_bytes')) {
    const gib = v / 2 ** 30
    return `${key.slice(0, -6).replace(/_/g, ' ')} ${gib >= 1 ? `${gib.toFixed(1)} GiB` : `${(v / 2 ** 20).toFixed(1)} MiB`}`
  }
  return `${key.replace(/_/g, ' ')} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`
}

function said(value: unknown): string {
  if (value === null || value === undefined) return 'not checked'
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join('; ')
  if (typeof value !== 'object') return String(value)
  const { ok, ...found } = value as Record<string, unknown>
  const facts = Object.entries(found).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => fact(k, v))
  const verdict = ok === undefined ? '' : ok === true ? 'ok' : 'FAILING'
  return [verdict, facts.join(', ')].filter((x) => x !== '').join(' – ') || 'no figures'
}

/** Per-node findings beyond seed 000's fields: health checks (health) and action output (coordinate). */
function details(d: OpReport['details']): void {
  const blocks: HTMLElement[] = []
  for (const [node, checks] of Object.entries(d?.checks ?? {})) {
    const box = el('div', undefined, { class: 'node-details' })
    box.dataset.node = node
    box.append(el('h5', `Health of ${node}`), el('ul'))
    box.querySelector('ul')!.append(...Object.entries(checks as Record<string, unknown>).map(([k, v]) => check(k, v)))
    blocks.push(box)
  }
  for (const [node, out] of Object.entries(d?.output ?? {})) {
    const { exit_code: code, output } = out as { exit_code: number | null, output: string }
    const box = el('div', undefined, { class: 'node-details' })
    box.dataset.node = node
    box.append(el('h5', `Output on ${node} (exit ${figure(code)})`), el('pre', output === '' ? '(no output)' : output, { class: 'wrap' }))
    blocks.push(box)
  }
  $('op-details-title').hidden = blocks.length === 0
  $('op-details').replaceChildren(...blocks)
}

/** Shows an operation's report: verdict, per-node table, issues, recommendations, then per-node details. */
export function showReport(r: OpReport | null): void {
  $('op-report').hidden = false
  const verdict = r?.validation_status ?? 'interrupted'
  $('op-verdict').replaceWith(Object.assign(badge(verdict, VERDICT[verdict] ?? 'offline'), { id: 'op-verdict' }))
  $('op-summary').textContent = r?.summary ?? 'the daemon running it stopped before it finished; start it again'
  $('op-figures').textContent = r === null ? '' : `confidence ${r.confidence}, ${r.execution_time} s`
  nodesTable(r?.nodes_status ?? {})
  const issues = r?.issues ?? []
  $('op-issues').replaceChildren(...(issues.length > 0 ? issues.map((i) => {
    const li = item(`${i.node} ${i.step}: ${i.error} (${i.suggestion})`)
    li.dataset.node = i.node
    return li
  }) : [item('none')]))
  $('op-recommendations').replaceChildren(...(r?.recommendations.length ? r.recommendations.map(item) : [item('none')]))
  details(r?.details)
}
