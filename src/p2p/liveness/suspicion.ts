/**
 * Suspicion of one member (Lifeguard-like, after memberlist's suspicion.go):
 * the state a missed ping opens, the pure timing rules that judge it, and the
 * table that owns each suspect's one recheck timer. No sockets here: the
 * prober feeds in pings, helpers' answers and the clock.
 */

/** The state of one suspicion window. */
export interface Suspicion {
  /** When the window opened (performance.now() time). */
  since: number
  /** Conclusive missed pings in this window. */
  misses: number
  /** Helpers asked and not yet answered. */
  pending: number
  /** The helpers that could not reach it either. */
  denied: string[]
  /** A helper that reached it: the node is alive, only our link to it is not. */
  vouchedBy: string | null
}

/** What a suspicion amounts to at a given moment. */
export type Verdict =
  /** A helper reached it: degraded from here, a new window asks again. */
  | { kind: 'vouched', by: string }
  /** The window is still open: judge again at dueAt. */
  | { kind: 'wait', dueAt: number }
  /** The window passed, but a second miss or a helper's answer is still due. */
  | { kind: 'undecided' }
  /** Nobody reached it in the window: offline. */
  | { kind: 'offline', waitedMs: number }

/** A new window opened at `now`. */
export function newSuspicion(now: number): Suspicion {
  return { since: now, misses: 0, pending: 0, denied: [], vouchedBy: null }
}

/**
 * How long a suspect has to answer (Lifeguard's local health, simplified):
 * suspicionMs when a helper could not reach it either, twice that when no
 * helper could say (none online, or all too slow to answer), plus twice the
 * lag this process itself ran with lately. A starved machine (every process
 * late, helpers among them) waits longer instead of declaring its peers
 * offline, which would cost it reconnections it has no CPU for.
 */
export function suspicionWindowMs(s: Suspicion, suspicionMs: number, localLagMs: number): number {
  return suspicionMs * (s.denied.length > 0 ? 1 : 2) + 2 * localLagMs
}

/** Judges a suspicion at `now`. */
export function judgeSuspicion(s: Suspicion, now: number, suspicionMs: number, localLagMs: number): Verdict {
  if (s.vouchedBy !== null) return { kind: 'vouched', by: s.vouchedBy }
  const waited = now - s.since
  const window = suspicionWindowMs(s, suspicionMs, localLagMs)
  // Judged again the moment the window ends (1 ms past it), not at the next round.
  if (waited < window) return { kind: 'wait', dueAt: s.since + window + 1 }
  if (s.misses < 2 || s.pending > 0) return { kind: 'undecided' }
  return { kind: 'offline', waitedMs: waited }
}

/**
 * How long a ping may wait for an answer: a suspect's waits to the end of
 * suspicionMs, so that a late answer from a starved node still counts (not to
 * the end of a longer window: the second miss must come in time for a
 * confirmed suspect).
 */
export function pingTimeoutMs(s: Suspicion | undefined, now: number, timeoutMs: number, suspicionMs: number): number {
  return s === undefined ? timeoutMs : Math.max(timeoutMs, s.since + suspicionMs - now)
}

/**
 * Whether a ping timeout that waited `waitedMs` for `timeoutMs` fired well
 * after it was due: this process stalled, not the peer, so it proves nothing.
 */
export function firedLate(waitedMs: number, timeoutMs: number, baseTimeoutMs: number): boolean {
  return waitedMs > timeoutMs + Math.min(200, baseTimeoutMs / 2)
}

interface Entry {
  suspicion: Suspicion
  recheck: { at: number, timer: NodeJS.Timeout } | null
}

/** The suspects of one prober and the one recheck timer each may hold. */
export class Suspicions {
  private readonly entries = new Map<string, Entry>()

  /** Opens a window for `name`, ending any open one. */
  begin(name: string, now: number): Suspicion {
    this.end(name)
    const suspicion = newSuspicion(now)
    this.entries.set(name, { suspicion, recheck: null })
    return suspicion
  }

  get(name: string): Suspicion | undefined {
    return this.entries.get(name)?.suspicion
  }

  has(name: string): boolean {
    return this.entries.has(name)
  }

  /** Drops a suspicion and its timer; whether there was one. */
  end(name: string): boolean {
    const e = this.entries.get(name)
    if (e === undefined) return false
    if (e.recheck !== null) clearTimeout(e.recheck.timer)
    this.entries.delete(name)
    return true
  }

  endAll(): void {
    for (const name of [...this.entries.keys()]) this.end(name)
  }

  /**
   * Calls `onDue` at `dueAt` (performance.now() time). A timer already set
   * for a later time moves up (a helper's answer shrank the window); one set
   * for an earlier time stays.
   */
  recheckAt(name: string, dueAt: number, now: number, onDue: () => void): void {
    const e = this.entries.get(name)
    if (e === undefined || (e.recheck !== null && dueAt >= e.recheck.at)) return
    if (e.recheck !== null) clearTimeout(e.recheck.timer)
    const timer = setTimeout(() => {
      e.recheck = null
      onDue()
    }, dueAt - now).unref()
    e.recheck = { at: dueAt, timer }
  }

  /** Recheck timers set now (tests: an ended suspicion leaves none behind). */
  get timers(): number {
    let n = 0
    for (const e of this.entries.values()) if (e.recheck !== null) n++
    return n
  }

  get size(): number {
    return this.entries.size
  }
}
