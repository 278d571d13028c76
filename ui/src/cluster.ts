import { get } from './api.js'
import { $, ago, badge, cell, el, emptyRow, svgEl as svg, type Tone } from './dom.js'

export interface NodeRow {
  name: string
  status: Tone
  block_height: number | null
  mempool_size: number | null
  p2p_connections: number | null
  links: string[] | null
  service_uptime: string | null
  version: string | null
  last_seen_ms: number | null
  reason: string | null
  registry_mismatch: string | null
  self: boolean
}

function table(rows: NodeRow[]): void {
  const top = Math.max(0, ...rows.map((n) => n.block_height ?? 0))
  $('nodes').querySelector('tbody')!.replaceChildren(...(rows.length === 0 ? [emptyRow(9, 'No nodes yet: this daemon has not heard any.')] : rows.map((n) => {
    const tr = el('tr')
    tr.dataset.node = n.name
    tr.dataset.state = n.status
    const state = cell(badge(n.status, n.status))
    const why = n.registry_mismatch ?? n.reason
    if (why !== null) state.append(el('div', why, { class: 'reason' }))
    const lag = n.block_height === null ? '–' : String(top - n.block_height)
    tr.append(
      cell(n.self ? `${n.name} (this daemon)` : n.name), state, cell(String(n.block_height ?? '–')), cell(lag, lag !== '0' && lag !== '–' ? 'warn' : undefined),
      cell(String(n.mempool_size ?? '–')), cell(String(n.p2p_connections ?? '–')), cell(n.service_uptime ?? '–'), cell(n.version ?? '–'),
      cell(n.self ? 'this daemon' : ago(n.last_seen_ms)),
    )
    return tr
  })))
  const count = (s: string) => rows.filter((r) => r.status === s).length
  $('summary').textContent = `${count('online')} online, ${count('degraded')} degraded, ${count('offline')} offline`
}

/**
 * Who is connected to whom, as each node last said: nodes on a circle in their state's colour, a
 * solid line where both ends report the link, dashed where one end does (or is offline).
 */
function mesh(rows: NodeRow[]): void {
  const picture = $('mesh-picture') as unknown as SVGSVGElement
  const size = 320
  const r = rows.length <= 1 ? 0 : size / 2 - 48
  const at = new Map(rows.map((n, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, rows.length) - Math.PI / 2
    return [n.name, { x: size / 2 + r * Math.cos(a), y: size / 2 + r * Math.sin(a), row: n }] as const
  }))
  const pairs = new Map<string, { a: string, b: string, sides: number }>()
  for (const n of rows) {
    for (const m of n.links ?? []) {
      if (!at.has(m)) continue
      const [a, b] = [n.name, m].sort() as [string, string]
      const key = `${a} ${b}`
      const p = pairs.get(key) ?? { a, b, sides: 0 }
      p.sides++
      pairs.set(key, p)
    }
  }
  const lines = [...pairs.entries()].map(([key, p]) => {
    const from = at.get(p.a)!
    const to = at.get(p.b)!
    const sure = p.sides === 2 && from.row.status !== 'offline' && to.row.status !== 'offline'
    const line = svg('line', { x1: from.x, y1: from.y, x2: to.x, y2: to.y, class: sure ? 'link' : 'link doubtful' })
    line.dataset.link = key
    return line
  })
  const dots = [...at.values()].map(({ x, y, row }) => {
    const g = svg('g', { class: `mesh-node ${row.status}` })
    g.dataset.node = row.name
    g.append(svg('circle', { cx: x, cy: y, r: 14 }))
    const label = svg('text', { x, 'y': y + (y > size / 2 ? 30 : -20), 'text-anchor': 'middle' })
    label.textContent = row.name
    g.append(label)
    return g
  })
  picture.replaceChildren(...lines, ...dots)
  const said = [...pairs.values()].map((p) => `${p.a} – ${p.b}${p.sides === 2 ? '' : ' (one side)'}`)
  $('mesh-links').textContent = rows.length === 0 ? '' : said.length === 0 ? 'No links reported.' : `Links: ${said.join(', ')}.`
  picture.setAttribute('aria-label', `Mesh of ${rows.length} nodes with ${pairs.size} links`)
}

/** Reads GET /nodes (cheap: the daemon's own view) and draws it; the caller repeats it every second. */
export async function refreshCluster(): Promise<NodeRow[]> {
  const res = await get<{ nodes_status: Record<string, NodeRow> }>('/nodes')
  const rows = Object.values(res.nodes_status)
  table(rows)
  mesh(rows)
  return rows
}
