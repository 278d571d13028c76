import type { RedisClient } from './redis-client.js'
import { checkRedis, type RedisHealth } from './redis-health.js'

export interface RedisHealthMonitorInit {
  /** The connection whose health /health reports (its events mark it down at once). */
  redis: RedisClient
  /** How often the health is read again in the background (default DEFAULT_CHECK_INTERVAL_MS). */
  intervalMs?: number
  /** How long one check may take before Redis counts as down (default DEFAULT_CHECK_TIMEOUT_MS). */
  timeoutMs?: number
  /** How often a PING checks between those reads that Redis answers at all (the daemon's: redis.healthPingMs). */
  pingIntervalMs: number
  /**
   * A PING unanswered this long marks Redis down at once: a hung
   * Redis keeps its connections open, so no event says so, and every call
   * already waits on it. Down until a PING is answered again. The daemon's: redis.hungAfterMs.
   */
  hungAfterMs: number
}

/** How often the full health check runs in the background. */
export const DEFAULT_CHECK_INTERVAL_MS = 2000
/** How long one full check may take before Redis counts as down. */
export const DEFAULT_CHECK_TIMEOUT_MS = 2000

/**
 * The shared Redis's health, kept fresh in the background so that /health
 * answers from memory instead of asking Redis on every request. A connection
 * that closes or errors marks Redis down the moment ioredis says so; the
 * next check (at once when the connection is ready again) marks it up.
 */
export class RedisHealthMonitor {
  private health: RedisHealth = down('not checked yet')
  private timer: NodeJS.Timeout | undefined
  private started = false
  private checking: Promise<void> | undefined
  private pingTimer: NodeJS.Timeout | undefined
  /** The PING in flight: since when, and the down health it turned into once past hungAfterMs. */
  private pinging: { since: number, hung: RedisHealth | null } | null = null
  private readonly onDown = (err?: Error): void => {
    this.health = down(err instanceof Error ? err.message : 'the connection to Redis closed')
  }

  private readonly onReady = (): void => {
    void this.refresh()
  }

  constructor(private readonly init: RedisHealthMonitorInit) {}

  /** The last known health; down while a PING has waited past hungAfterMs. */
  get current(): RedisHealth {
    const p = this.pinging
    const hungAfterMs = this.init.hungAfterMs
    if (this.health.ok && p !== null && performance.now() - p.since > hungAfterMs) {
      p.hung ??= down(`no answer to PING within ${hungAfterMs} ms`)
      return p.hung
    }
    return this.health
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const r = this.init.redis
    r.on('close', this.onDown)
    r.on('error', this.onDown)
    r.on('ready', this.onReady)
    await this.refresh()
    this.schedule()
    this.schedulePing()
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    clearTimeout(this.timer)
    clearTimeout(this.pingTimer)
    const r = this.init.redis
    r.off('close', this.onDown)
    r.off('error', this.onDown)
    r.off('ready', this.onReady)
  }

  /** Reads the health now (one check at a time). */
  refresh(): Promise<void> {
    this.checking ??= checkRedis(this.init.redis, this.init.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS)
      .then((h) => {
        this.health = h
      })
      .finally(() => {
        this.checking = undefined
      })
    return this.checking
  }

  /** One PING: a failure marks Redis down; an answer after a failure reads the whole health again. */
  private async ping(): Promise<void> {
    const p = { since: performance.now(), hung: null }
    this.pinging = p
    try {
      await this.init.redis.ping()
      this.pinging = null
      if (!this.health.ok) await this.refresh()
    } catch (err) {
      this.health = down(err instanceof Error ? err.message : String(err))
    } finally {
      if (this.pinging === p) this.pinging = null
    }
  }

  private schedulePing(): void {
    if (!this.started) return
    this.pingTimer = setTimeout(() => {
      void this.ping().finally(() => this.schedulePing())
    }, this.init.pingIntervalMs)
    this.pingTimer.unref()
  }

  private schedule(): void {
    if (!this.started) return
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule())
    }, this.init.intervalMs ?? DEFAULT_CHECK_INTERVAL_MS)
    this.timer.unref()
  }
}

function down(error: string): RedisHealth {
  return {
    ok: false, latency_ms: null, aof_enabled: null, aof_fsync: null, maxmemory_policy: null,
    used_memory_bytes: null, maxmemory_bytes: null, warnings: [], error,
  }
}
