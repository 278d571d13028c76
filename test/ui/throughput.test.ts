import t from 'tap'
import { type CounterReading, perMinute } from '../../ui/src/throughput.js'

// The dashboard's throughput line: completions per minute from the cluster's cumulative counters.
const at = (s: number) => Date.UTC(2026, 0, 1) + s * 1000
const readings = (pairs: [number, number][]): CounterReading[] => pairs.map(([s, n]) => ({ at: at(s), counts: { completed: n } }))
const line = (r: CounterReading[]) => perMinute(r, ['completed']).map((p) => p.values.completed ?? Number.NaN)

t.test('five completions in three seconds are 5 in the minute, never 100 per minute', async (t) => {
  t.same(line(readings([[0, 1000], [3, 1005], [6, 1005]])), [5, 5], 'counted, not scaled up from the 3 s between readings')
})

t.test('each point counts the events of the minute before it, from readings every 3 s', async (t) => {
  // One completion every 3 s for 2 minutes, then none.
  const r = readings(Array.from({ length: 81 }, (_, i) => [i * 3, Math.min(i, 40)] as [number, number]))
  const points = line(r)
  t.equal(Math.max(...points), 20, 'the peak is 20 a minute, as happened (60 s / 3 s)')
  t.equal(points.at(-1), 0, 'a minute after the last completion: 0')
  t.equal(points[9], 10, '30 s in: the 10 completions so far, not extrapolated to 20')
})

t.test('a counter that goes down (Redis flushed) starts again from its new value', async (t) => {
  t.same(line(readings([[0, 50], [3, 52], [6, 1], [9, 3]])), [2, 3, 5])
})

t.test('readings more than a minute apart (a background tab): the events spread over the gap, never more', async (t) => {
  t.same(line(readings([[0, 0], [120, 10]])), [5], '10 completions in 2 minutes: 5 a minute')
})

t.test('no reading, or one: no point', async (t) => {
  t.same(line([]), [])
  t.same(line(readings([[0, 3]])), [])
})
