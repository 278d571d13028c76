import { svgEl as node } from './dom.js'
import type { Sample } from './sample.js'

export type { Sample }

/** What the axes say: the unit of the values (y) and of the time (x). */
export interface Axes { y: string, x?: string }

const W = 600
const H = 200
const LEFT = 64
const RIGHT = 12
const TOP = 14
const BOTTOM = 46

/** Keeps the last `max` samples: the page's memory of a figure over time. */
export class History<T = Sample> {
  readonly samples: T[] = []
  constructor(private readonly max: number) {}
  add(s: T): void {
    this.samples.push(s)
    if (this.samples.length > this.max) this.samples.shift()
  }
}

const clock = (ms: number): string => new Date(ms).toTimeString().slice(0, 8)
const figure = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(1))

/**
 * Draws each series as a line over the samples' span into an SVG with labelled axes: the y axis
 * from 0 to the highest value drawn (its peak, written as it is) in the unit given, the x axis from
 * the first sample's clock time to the last's. The label says the latest figures.
 */
export function lineChart(target: SVGSVGElement, samples: Sample[], series: readonly string[], axes: Axes): void {
  target.setAttribute('viewBox', `0 0 ${W} ${H}`)
  const first = samples[0]
  const last = samples.at(-1)
  if (first === undefined || last === undefined || samples.length < 2) {
    target.replaceChildren(node('text', { 'x': W / 2, 'y': H / 2, 'text-anchor': 'middle', 'class': 'axis' }, 'Collecting figures…'))
    target.setAttribute('aria-label', `${axes.y}: collecting figures`)
    return
  }
  const peak = Math.max(0, ...samples.flatMap((s) => series.map((k) => s.values[k] ?? 0)))
  // The scale's top: the peak itself, so that the highest point sits on the labelled tick.
  const top = peak > 0 ? peak : 1
  const span = Math.max(1, last.at - first.at)
  const bottom = H - BOTTOM
  const x = (at: number) => LEFT + ((at - first.at) / span) * (W - LEFT - RIGHT)
  const y = (v: number) => bottom - (v / top) * (bottom - TOP)
  const lines = series.map((k) => {
    const points = samples.map((s) => `${x(s.at).toFixed(1)},${y(s.values[k] ?? 0).toFixed(1)}`).join(' ')
    const line = node('polyline', { points, class: `series s-${k}` })
    line.dataset.series = k
    line.dataset.last = String(last.values[k] ?? 0)
    line.dataset.peak = String(Math.max(0, ...samples.map((s) => s.values[k] ?? 0)))
    return line
  })
  const yMax = node('text', { 'x': LEFT - 6, 'y': TOP + 5, 'text-anchor': 'end', 'class': 'axis' }, figure(top))
  yMax.dataset.axis = 'y-max'
  const yName = node('text', { 'x': 16, 'y': (TOP + bottom) / 2, 'text-anchor': 'middle', 'class': 'axis', 'transform': `rotate(-90 16 ${(TOP + bottom) / 2})` }, axes.y)
  yName.dataset.axis = 'y-label'
  const xName = node('text', { 'x': (LEFT + W - RIGHT) / 2, 'y': H - 4, 'text-anchor': 'middle', 'class': 'axis' }, axes.x ?? `time (last ${Math.max(1, Math.round(span / 1000))} s)`)
  xName.dataset.axis = 'x-label'
  target.replaceChildren(
    node('line', { x1: LEFT, y1: bottom, x2: W - RIGHT, y2: bottom, class: 'axis-line' }),
    node('line', { x1: LEFT, y1: TOP, x2: LEFT, y2: bottom, class: 'axis-line' }),
    node('line', { 'x1': LEFT, 'y1': TOP, 'x2': W - RIGHT, 'y2': TOP, 'class': 'axis-line', 'stroke-dasharray': '3 3' }),
    yMax,
    node('text', { 'x': LEFT - 6, 'y': bottom + 5, 'text-anchor': 'end', 'class': 'axis' }, '0'),
    node('text', { x: LEFT, y: bottom + 18, class: 'axis' }, clock(first.at)),
    node('text', { 'x': W - RIGHT, 'y': bottom + 18, 'text-anchor': 'end', 'class': 'axis' }, `${clock(last.at)} (now)`),
    yName, xName,
    ...lines,
  )
  target.setAttribute('aria-label', `${axes.y}: ${series.map((k) => `${k} ${figure(last.values[k] ?? 0)} now, peak ${figure(Math.max(0, ...samples.map((s) => s.values[k] ?? 0)))}`).join('; ')}`)
}
