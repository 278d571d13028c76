import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Priority, TaskRepository } from '../coordinator/index.js'

/**
 * Task metrics. Queue depths and aitbc_tasks are read from Redis at scrape
 * time, so every daemon reports the same cluster-wide figures (take max()
 * across daemons, never sum()). aitbc_tasks_total counts what this daemon
 * took itself, so sum(rate(...)) across daemons is the cluster's rate with
 * nothing counted twice; the assignment latency is this daemon's own.
 */
export interface TaskMetrics {
  assigned(priority: Priority, waitedMs: number): void
  outcome(outcome: TaskOutcome): void
}

export type TaskOutcome = 'submitted' | 'completed' | 'failed' | 'retried' | 'dead'

export function createTaskMetrics(registry: Registry, store: TaskRepository): TaskMetrics {
  new Gauge({
    name: 'aitbc_task_queue_depth',
    help: 'Tasks waiting in each priority queue (shared Redis)',
    labelNames: ['priority'] as const,
    registers: [registry],
    async collect() {
      const sizes = await store.queueSizes().catch(() => null)
      if (sizes !== null) for (const [priority, n] of Object.entries(sizes)) this.set({ priority }, n)
    },
  })
  new Gauge({
    name: 'aitbc_tasks',
    help: 'Task counters of the shared registry: submitted, distributed, completed, failed, retried, dead, cleared, expired (removed by retention)',
    labelNames: ['outcome'] as const,
    registers: [registry],
    async collect() {
      const c = await store.counters().catch(() => null)
      if (c === null) return
      for (const outcome of ['submitted', 'distributed', 'completed', 'failed', 'retried', 'dead', 'cleared', 'expired']) {
        this.set({ outcome }, c[outcome] ?? 0)
      }
    },
  })
  new Gauge({
    name: 'aitbc_push_events',
    help: 'Push delivery in the shared registry: unreached (pushes that never reached their agent, not counted as attempts), circuits_opened, circuits_closed',
    labelNames: ['event'] as const,
    registers: [registry],
    async collect() {
      const c = await store.counters().catch(() => null)
      if (c === null) return
      for (const event of ['push_unreached', 'circuits_opened', 'circuits_closed']) this.set({ event: event.replace(/^push_/, '') }, c[event] ?? 0)
    },
  })
  new Gauge({
    name: 'aitbc_push_circuit_open',
    help: 'Push agents whose circuit is open or half open (state): they take no task until a push reaches them again (shared Redis)',
    labelNames: ['agent', 'state'] as const,
    registers: [registry],
    async collect() {
      const open = await store.push.open().catch(() => null)
      if (open === null) return
      this.reset()
      for (const c of open) this.set({ agent: c.agent_id, state: c.state }, 1)
    },
  })
  const latency = new Histogram({
    name: 'aitbc_task_assignment_seconds',
    help: 'Time from submission to assignment, for tasks this daemon assigned',
    labelNames: ['priority'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [registry],
  })
  const outcomes = new Counter({
    name: 'aitbc_tasks_total',
    help: 'Task submissions, completions and failure reports (retried, dead or failed) taken by this daemon',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })
  for (const outcome of ['submitted', 'completed', 'failed', 'retried', 'dead']) outcomes.inc({ outcome }, 0)
  return {
    assigned: (priority, waitedMs) => latency.observe({ priority }, waitedMs / 1000),
    outcome: (outcome) => outcomes.inc({ outcome }),
  }
}
