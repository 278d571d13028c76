import type { Sample } from './sample.js'

/** The cluster's cumulative counters as one read gave them, at the time of that read (ms since the epoch). */
export interface CounterReading { at: number, counts: Record<string, number> }

const MINUTE = 60_000

/**
 * Completions (or any counter) per minute from cumulative counter readings, one point per reading:
 * the count of events between the earliest reading of the last 60 s and this one. A count over less
 * than a minute is shown as it is, never scaled up into a rate (five completions in three seconds
 * are 5, not 100 per minute); only when two readings are more than a minute apart (a tab in the
 * background) is the count spread over the gap, which can only lower it. A counter that goes down
 * (a Redis flushed) starts again from its new value.
 */
export function perMinute(readings: readonly CounterReading[], series: readonly string[]): Sample[] {
  // Per series, events seen up to each reading, immune to a counter reset.
  const seen = readings.map(() => ({}) as Record<string, number>)
  for (const k of series) {
    let total = 0
    readings.forEach((r, i) => {
      const prev = i === 0 ? undefined : readings[i - 1]!.counts[k]
      const now = r.counts[k] ?? 0
      if (prev !== undefined) total += now >= prev ? now - prev : now
      seen[i]![k] = total
    })
  }
  const out: Sample[] = []
  for (let i = 1; i < readings.length; i++) {
    const at = readings[i]!.at
    const j = readings.findIndex((r, n) => n < i && r.at >= at - MINUTE)
    const values: Record<string, number> = {}
    for (const k of series) {
      if (j >= 0) values[k] = seen[i]![k]! - seen[j]![k]!
      else {
        const gap = at - readings[i - 1]!.at
        values[k] = Math.round(((seen[i]![k]! - seen[i - 1]![k]!) * MINUTE * 10) / gap) / 10
      }
    }
    out.push({ at, values })
  }
  return out
}
