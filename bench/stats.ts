/** Protocol of the naive baseline: one fresh stream per message. */
export const NAIVE_PROTOCOL = '/bench/naive/1.0.0'

/** Percentile of a list of numbers (nearest rank); the list is sorted in place. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  values.sort((a, b) => a - b)
  const rank = Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))
  return values[rank]!
}

/** Runs `task` count times with `concurrency` workers; returns per-call latencies (ms) and the rate per second. */
export async function drive(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<{ latencies: number[], perSecond: number }> {
  const latencies: number[] = []
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++
      const t0 = performance.now()
      await task(i)
      latencies.push(performance.now() - t0)
    }
  }))
  return { latencies, perSecond: (count / (performance.now() - started)) * 1000 }
}

/** Prints rows as an aligned table. */
export function printTable(headers: string[], rows: (string | number)[][]): void {
  const cells = rows.map((r) => r.map(String))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i]!)).join('  ')
  console.log(line(headers))
  for (const r of cells) console.log(line(r))
}

export const fmt = (n: number, digits = 2): string => n.toFixed(digits)

/** Median of a list of numbers (the list is not changed). */
export function median(values: number[]): number {
  return percentile([...values], 50)
}

/**
 * Runs ours and theirs alternately `runs` times (after one warm-up of each), so
 * that both see the same machine: medians of each and the median of the pairs' ratios.
 */
export async function pairs(
  ours: () => Promise<number>,
  theirs: () => Promise<number>,
  runs: number,
): Promise<[number, number, number]> {
  await ours()
  await theirs()
  const xs: number[] = []
  const ys: number[] = []
  for (let i = 0; i < runs; i++) {
    xs.push(await ours())
    ys.push(await theirs())
  }
  return [median(xs), median(ys), median(xs.map((x, i) => x / ys[i]!))]
}
