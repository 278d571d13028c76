import { Gauge, type Registry } from 'prom-client'
import type { ActionSlots, OpsEngine } from '../ops/index.js'

/** Gauges of the operation engine and the node-action slots, read at scrape time. */
export function registerOpsGauges(
  registry: Registry,
  engine: Pick<OpsEngine, 'runningCount' | 'queuedCount' | 'peakRunning'>,
  slots: Pick<ActionSlots, 'runningCount' | 'waitingCount' | 'peak'>,
): void {
  for (const [name, help, read] of [
    ['aitbc_ops_running', 'Operations running on this daemon', () => engine.runningCount],
    ['aitbc_ops_queued', 'Operations waiting for a slot on this daemon', () => engine.queuedCount],
    ['aitbc_ops_peak_running', 'Most operations seen running at once on this daemon', () => engine.peakRunning],
    ['aitbc_node_actions_running', 'Node actions running on this node, for any caller', () => slots.runningCount],
    ['aitbc_node_actions_waiting', 'Node actions waiting for a slot on this node', () => slots.waitingCount],
    ['aitbc_node_actions_peak_running', 'Most node actions seen running at once on this node', () => slots.peak],
  ] as const) {
    new Gauge({ name, help, registers: [registry], collect() {
      this.set(read())
    } })
  }
}
