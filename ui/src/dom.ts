/** The page's small DOM vocabulary: one way to find, fill and colour things across panels. */
export const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K, text?: string, attrs: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  if (text !== undefined) e.textContent = text
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v)
  return e
}

export function cell(content: string | Node, className?: string): HTMLTableCellElement {
  const td = el('td', undefined, className === undefined ? {} : { class: className })
  td.append(content)
  return td
}

/** A table row that says the table is empty and what would fill it. */
export function emptyRow(columns: number, text: string): HTMLTableRowElement {
  const tr = el('tr', undefined, { class: 'empty' })
  tr.append(el('td', text, { colspan: String(columns) }))
  return tr
}

export const item = (text: string): HTMLLIElement => el('li', text)

/** The three colours of the page: online (good), degraded (look at it), offline (act). */
export type Tone = 'online' | 'degraded' | 'offline'

export function badge(text: string, tone: Tone): HTMLSpanElement {
  return el('span', text, { class: `state ${tone}` })
}

export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/** A duration since, as a person says it. */
export function ago(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return 'never'
  if (ms < 1500) return 'just now'
  if (ms < 90_000) return `${Math.round(ms / 1000)} s ago`
  if (ms < 90 * 60_000) return `${Math.round(ms / 60_000)} min ago`
  if (ms < 36 * 3600_000) return `${Math.round(ms / 3600_000)} h ago`
  return `${Math.round(ms / 86400_000)} d ago`
}

export const since = (iso: string | null): string => (iso === null || iso === '' ? 'never' : ago(Date.now() - Date.parse(iso)))

/** Shows an error in a panel's alert line, or hides it (null). */
export function alertIn(id: string, text: string | null): void {
  const e = $(id)
  e.textContent = text ?? ''
  e.hidden = text === null
}

/** Sets a select's options to `values` (unchanged if they already are), keeping the choice where it still exists. */
export function fillOptions(select: HTMLSelectElement, values: string[]): void {
  if (JSON.stringify([...select.options].map((o) => o.value)) === JSON.stringify(values)) return
  const chosen = select.value
  select.replaceChildren(...values.map((n) => el('option', n, { value: n })))
  if (values.includes(chosen)) select.value = chosen
}

/** An SVG element with its attributes (and text). */
export function svgEl<K extends keyof SVGElementTagNameMap>(
  tag: K, attrs: Record<string, string | number>, text?: string,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = text
  return e
}
