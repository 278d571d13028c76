import type { Context, Next } from 'koa'
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client'

/** Prometheus metrics of one coordinator; a registry of its own so several can live in one process (tests). */
export interface HttpMetrics {
  readonly registry: Registry
  /** Koa middleware counting requests and timing them by route. */
  middleware(): (ctx: Context, next: Next) => Promise<void>
  /** Counts one request answered outside Koa, timed from `started` (performance.now()). */
  record(method: string, route: string, status: number, started: number): void
}

export function createHttpMetrics(opts: { defaultMetrics: boolean }): HttpMetrics {
  const registry = new Registry()
  // Under their standard names (process_cpu_seconds_total, process_resident_memory_bytes, nodejs_*),
  // so stock dashboards and alerts find them.
  // The event-loop lag histogram samples every 100 ms, not prom-client's 10: a 10 ms timer wakes the
  // idle daemon 100 times a second, about 0.5% of a core, more than the rest of its idle work.
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 })
  const requests = new Counter({
    name: 'aitbc_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'aitbc_http_request_duration_seconds',
    help: 'HTTP request latency, by method and route',
    labelNames: ['method', 'route'] as const,
    // Up to 120 s: long polls (wait_ms up to 60 s) and operations waited on (timeout up to 120 s) land in a bucket.
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  })
  // The labelled series, made once each: labelling per request (a timer closure and
  // label objects every time) costs about a tenth of what a GET /health does. Bounded by
  // the methods Node's parser accepts × the routes × the statuses.
  const timers = new Map<string, Histogram.Internal<'method' | 'route'>>()
  const counts = new Map<string, Counter.Internal>()
  const record = (method: string, route: string, status: number, started: number): void => {
    const key = `${method} ${route}`
    let timer = timers.get(key)
    if (timer === undefined) timers.set(key, (timer = duration.labels(method, route)))
    timer.observe((performance.now() - started) / 1000)
    const countKey = `${key} ${status}`
    let count = counts.get(countKey)
    if (count === undefined) counts.set(countKey, (count = requests.labels(method, route, String(status))))
    count.inc()
  }
  return {
    registry,
    record,
    middleware: () => async (ctx, next) => {
      const started = performance.now()
      try {
        await next()
      } finally {
        record(ctx.method, (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? 'unmatched', ctx.status, started)
      }
    },
  }
}
