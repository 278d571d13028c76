import { svgEl as node } from './dom.js'

/** A sample of several series at one time (ms since the epoch). */
export interface Sample { at: number, values: Record<string, number> }

const W = 600
const H = 140
const PAD = 28

/** Keeps the last `max` samples: the page's memory of a figure over time. */
export class History {
  readonly samples: Sample[] = []
  constructor(private readonly max: number) {}
  add(s: Sample): void {
    this.samples.push(s)
    if (this.samples.length > this.max) this.samples.shift()
  }
}

/**
 * Draws each series as a line over the samples' span into an SVG, with its
 * top value and time span written out; the label says the latest figures.
 */
export function lineChart(target: SVGSVGElement, samples: Sample[], series: readonly string[], unit: string): void {
  target.setAttribute('viewBox', `0 0 ${W} ${H}`)
  const first = samples[0]
  const last = samples.at(-1)
  if (first === undefined || last === undefined || samples.length < 2) {
    target.replaceChildren(node('text', { 'x': W / 2, 'y': H / 2, 'text-anchor': 'middle', 'class': 'axis' }, 'Collecting figures…'))
    return
  }
  const top = Math.max(1, ...samples.flatMap((s) => series.map((k) => s.values[k] ?? 0)))
  const span = Math.max(1, last.at - first.at)
  const x = (at: number) => PAD + ((at - first.at) / span) * (W - 2 * PAD)
  const y = (v: number) => H - PAD / 2 - (v / top) * (H - PAD)
  const lines = series.map((k) => {
    const points = samples.map((s) => `${x(s.at).toFixed(1)},${y(s.values[k] ?? 0).toFixed(1)}`).join(' ')
    const line = node('polyline', { points, class: `series s-${k}` })
    line.dataset.series = k
    line.dataset.last = String(last.values[k] ?? 0)
    return line
  })
  target.replaceChildren(
    node('line', { x1: PAD, y1: H - PAD / 2, x2: W - PAD, y2: H - PAD / 2, class: 'axis-line' }),
    node('text', { x: 2, y: PAD / 2 + 4, class: 'axis' }, `${top}`),
    node('text', { 'x': W - PAD, 'y': H - 2, 'text-anchor': 'end', 'class': 'axis' }, `last ${Math.round(span / 1000)} s`),
    ...lines,
  )
  target.setAttribute('aria-label', `${series.map((k) => `${k} ${last.values[k] ?? 0}`).join(', ')} ${unit} now`)
}
