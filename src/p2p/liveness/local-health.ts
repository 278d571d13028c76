/**
 * This node's own health, as Lifeguard's "local health awareness" keeps it
 * (memberlist's awareness.go): a score from 0 (healthy) to MAX_SCORE that
 * rises on evidence that this process, not its peers, is slow (its rounds run
 * late, its ping timeouts fire late, its probes fail where nobody could say
 * the peer is down, another member found it silent and reported it lost) and falls with each ping answered in time. The score
 * stretches this node's own timeouts by (score + 1): an overloaded node
 * waits longer for answers and for statuses instead of accusing healthy
 * members, whose redials and handshakes would feed the overload. At half the
 * scale and above it accuses no one at all: a missed ping is not counted.
 */

/** The highest score: timeouts stretch at most (MAX_SCORE + 1) times (memberlist's awarenessMaxMultiplier is 8). */
export const MAX_SCORE = 8

/** From this score on, misses are this node's own fault more likely than the peer's: none is counted. */
export const NO_ACCUSATION_SCORE = MAX_SCORE / 2

/** Why the score moved (logs, metrics). */
export type HealthEvidence =
  | 'late_round'
  | 'late_timeout'
  | 'unconfirmed_miss'
  | 'accused'
  | 'answered'

export interface LocalHealthInit {
  /** Called whenever the score changes. */
  onChange?(score: number, evidence: HealthEvidence): void
}

export class LocalHealth {
  private value = 0

  constructor(private readonly init: LocalHealthInit = {}) {}

  /** 0 (healthy) to MAX_SCORE. */
  get score(): number {
    return this.value
  }

  /** What this node's timeouts are multiplied by. */
  get multiplier(): number {
    return this.value + 1
  }

  /** Whether a missed ping may count against the peer (the score is under NO_ACCUSATION_SCORE). */
  get accuses(): boolean {
    return this.value < NO_ACCUSATION_SCORE
  }

  /** Stretches a timeout by the multiplier. */
  scale(ms: number): number {
    return ms * (this.value + 1)
  }

  /** Evidence of our own slowness: the score rises by one (up to MAX_SCORE). */
  worse(evidence: Exclude<HealthEvidence, 'answered'>): void {
    this.set(Math.min(MAX_SCORE, this.value + 1), evidence)
  }

  /** A ping answered in time: the score falls by one (down to 0). */
  better(): void {
    this.set(Math.max(0, this.value - 1), 'answered')
  }

  private set(next: number, evidence: HealthEvidence): void {
    if (next === this.value) return
    this.value = next
    this.init.onChange?.(next, evidence)
  }
}
