import { Gauge, type Registry } from 'prom-client'
import type { RedisHealth } from '../coordinator/index.js'

export interface DaemonMetricsInit {
  version: string
  node: string
  /** The shared Redis's health as the background monitor last saw it. */
  redisHealth(): RedisHealth
  /** Registered and active agents in the shared registry (read at scrape time). */
  agentCounts(): Promise<{ total: number, active: number }>
}

/**
 * What the alert rules in config/prometheus/ need beside the HTTP, task and
 * mesh metrics: the build, the shared Redis (up, latency, memory) and the
 * agent registry. Redis figures come from the health monitor's last check
 * (every 2 s), so a scrape never waits on Redis.
 */
export function registerDaemonMetrics(registry: Registry, init: DaemonMetricsInit): void {
  new Gauge({
    name: 'aitbc_build_info',
    help: 'Always 1; the labels say which build runs on which node',
    labelNames: ['version', 'node', 'nodejs'] as const,
    registers: [registry],
  }).set({ version: init.version, node: init.node, nodejs: process.version }, 1)
  const gauge = (name: string, help: string, read: (h: RedisHealth) => number | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read(init.redisHealth())
        if (v === null) this.reset()
        else this.set(v)
      },
    })
  gauge('aitbc_redis_up', '1 when the shared Redis answered the last health check, else 0', (h) => (h.ok ? 1 : 0))
  gauge('aitbc_redis_latency_seconds', 'Round trip of the last health check\'s PING', (h) => (h.latency_ms === null ? null : h.latency_ms / 1000))
  gauge('aitbc_redis_used_memory_bytes', 'Memory the shared Redis uses (INFO memory used_memory)', (h) => h.used_memory_bytes)
  gauge('aitbc_redis_maxmemory_bytes', 'The shared Redis\'s maxmemory; 0 means no limit', (h) => h.maxmemory_bytes)
  new Gauge({
    name: 'aitbc_agents',
    help: 'Agents in the shared registry: registered (any status) and active (taking tasks); the same on every daemon, take max()',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const c = await init.agentCounts().catch(() => null)
      if (c === null) return
      this.set({ state: 'registered' }, c.total)
      this.set({ state: 'active' }, c.active)
    },
  })
}
