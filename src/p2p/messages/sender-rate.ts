/** Senders tracked at once; past it, the fullest buckets are forgotten. */
export const DEFAULT_MAX_SENDERS = 10_000

/** Settings of a per-sender rate limit. */
export interface SenderRateInit {
  /** Messages a sender may send per second, sustained. */
  perSecond: number
  /** Messages a sender may send at once after a quiet spell. */
  burst: number
  /** Senders tracked at once; past it, the fullest buckets are forgotten (default DEFAULT_MAX_SENDERS). */
  maxSenders?: number
}

interface Bucket {
  tokens: number
  at: number
}

/**
 * A token bucket per sender: `burst` messages at once, then `perSecond`. The
 * receiver keys it by the authenticated sender's bound name, the API by the
 * caller's token name. A forgotten bucket is a full one, so forgetting never
 * refuses anyone; the map stays bounded however many senders there are.
 */
export class SenderRate {
  private readonly buckets = new Map<string, Bucket>()
  private readonly maxSenders: number

  constructor(private readonly init: SenderRateInit) {
    this.maxSenders = init.maxSenders ?? DEFAULT_MAX_SENDERS
  }

  /** Takes one message from the sender's allowance: 0 when admitted, else the ms until one would be. */
  take(sender: string, now = Date.now()): number {
    const { perSecond, burst } = this.init
    const b = this.buckets.get(sender) ?? { tokens: burst, at: now }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) * perSecond) / 1000)
    b.at = now
    if (!this.buckets.has(sender)) {
      if (this.buckets.size >= this.maxSenders) this.forgetFull(now)
      this.buckets.set(sender, b)
    }
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.ceil(((1 - b.tokens) * 1000) / perSecond)
  }

  /** Drops the buckets that have refilled (they hold nothing a new bucket would not), else the oldest. */
  private forgetFull(now: number): void {
    const { perSecond, burst } = this.init
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) * perSecond) / 1000 >= burst) this.buckets.delete(k)
    }
    if (this.buckets.size >= this.maxSenders) this.buckets.delete(this.buckets.keys().next().value!)
  }

  /** Senders tracked now (bounded by maxSenders). */
  get tracked(): number {
    return this.buckets.size
  }

  /** The limit in words, for refusals. */
  describe(): string {
    return `${this.init.burst} messages at once, then ${this.init.perSecond} per second`
  }
}
