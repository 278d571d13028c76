import type { RedisClient } from './agent-registry.js'
import { checkRedis, type RedisHealth } from './redis-health.js'

export interface RedisHealthMonitorInit {
  /** The connection whose health /health reports (its events mark it down at once). */
  redis: RedisClient
  /** How often the health is read again in the background (default 2000 ms). */
  intervalMs?: number
  /** How long one check may take before Redis counts as down (default 2000 ms). */
  timeoutMs?: number
}

/**
 * The shared Redis's health, kept fresh in the background so that /health
 * answers from memory instead of asking Redis on every request. A connection
 * that closes or errors marks Redis down the moment ioredis says so; the
 * next check (at once when the connection is ready again) marks it up.
 */
export class RedisHealthMonitor {
  private health: RedisHealth = down('not checked yet')
  private timer: NodeJS.Timeout | undefined
  private running = false
  private checking: Promise<void> | undefined
  private readonly onDown = (err?: Error): void => {
    this.health = down(err instanceof Error ? err.message : 'the connection to Redis closed')
  }

  private readonly onReady = (): void => {
    void this.refresh()
  }

  constructor(private readonly init: RedisHealthMonitorInit) {}

  /** The last known health. */
  get current(): RedisHealth {
    return this.health
  }

  async start(): Promise<void> {
    if (this.running) return
    this.running = true
    const r = this.init.redis
    r.on('close', this.onDown)
    r.on('error', this.onDown)
    r.on('ready', this.onReady)
    await this.refresh()
    this.schedule()
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    clearTimeout(this.timer)
    const r = this.init.redis
    r.off('close', this.onDown)
    r.off('error', this.onDown)
    r.off('ready', this.onReady)
  }

  /** Reads the health now (one check at a time). */
  refresh(): Promise<void> {
    this.checking ??= checkRedis(this.init.redis, this.init.timeoutMs ?? 2000)
      .then((h) => {
        this.health = h
      })
      .finally(() => {
        this.checking = undefined
      })
    return this.checking
  }

  private schedule(): void {
    if (!this.running) return
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule())
    }, this.init.intervalMs ?? 2000)
    this.timer.unref()
  }
}

function down(error: string): RedisHealth {
  return {
    ok: false, latency_ms: null, aof_enabled: null, aof_fsync: null, maxmemory_policy: null,
    used_memory_bytes: null, maxmemory_bytes: null, warnings: [], error,
  }
}
