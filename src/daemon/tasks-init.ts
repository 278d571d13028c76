import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import {
  type AgentRegistry,
  AgentSweeper,
  type CoordinatorAppInit,
  handBackUnclaimed,
  LoadBalancerState,
  type OpenApiLimits,
  type RedisClient,
  type RedisKeys,
  TaskDistributor,
  TaskRepository,
  TaskWakeups,
} from '../coordinator/index.js'
import type { Config } from './config/schema.js'
import { createTaskMetrics } from './task-metrics.js'

/** What the task side of the daemon needs from the rest of the root. */
export interface TaskEngineComponents {
  client: RedisClient
  keys: RedisKeys
  registry: AgentRegistry
  metrics: Registry
  /** The task engine's log (coordinator:tasks) and the sweeper's (coordinator:sweeper). */
  log: Logger
  sweeperLog: Logger
  /** The coordinator API's URL, for push deliveries' callbacks; read once the graph has started. */
  apiUrl(): string | null
}

/**
 * The task side of the coordinator, built from a resolved config: the agent
 * sweeper, wake-ups and distributor (services, in start order), and what the
 * API's task routes are given. The daemon's root and the in-process test
 * coordinator both build it here, so a test runs the daemon's wiring.
 */
export function buildTaskEngine(config: Readonly<Config>, c: TaskEngineComponents) {
  const tasks = new TaskRepository(c.client, c.keys, {
    defaultTimeoutMs: config.tasks.defaultTimeoutMs,
    defaultMaxRetries: config.tasks.defaultMaxRetries,
    maxQueueSize: config.tasks.maxQueueSize,
    retryBackoffMs: config.tasks.retryBackoffMs,
    agentCapacity: config.tasks.agentCapacity,
    defaultStrategy: config.tasks.strategy,
    agingMs: config.tasks.agingMs,
    retention: { completed: config.tasks.keepCompleted, failed: config.tasks.keepFailed, dead: config.tasks.keepDead },
  })
  const taskMetrics = createTaskMetrics(c.metrics, tasks)
  const balancer = new LoadBalancerState(c.client, c.keys, config.tasks.strategy)
  const unclaimed = handBackUnclaimed(tasks, c.log)
  const sweeper = new AgentSweeper({
    registry: c.registry,
    log: c.sweeperLog,
    staleAfterMs: config.agents.staleAfterMs,
    removeAfterMs: config.agents.removeAfterMs,
    intervalMs: config.agents.sweepIntervalMs ?? undefined,
  })
  const instance = randomUUID()
  const wakeups = new TaskWakeups({
    subscriber: c.client.duplicate(), channel: c.keys.taskEvents, handOffChannel: c.keys.handOffs(instance), log: c.log, instance,
    onUnclaimed: unclaimed,
  })
  const distributor = new TaskDistributor({
    tasks,
    registry: c.registry,
    balancer,
    wakeups,
    log: c.log,
    defaultCapacity: config.tasks.agentCapacity,
    reclaimIntervalMs: config.tasks.reclaimIntervalMs,
    pushTimeoutMs: config.tasks.pushTimeoutMs,
    circuit: config.tasks.pushCircuit,
    apiUrl: c.apiUrl,
    onAssigned: (priority, waitedMs) => taskMetrics.assigned(priority, waitedMs),
  })
  const routes: NonNullable<CoordinatorAppInit['tasks']> = {
    tasks,
    balancer,
    registry: c.registry,
    distributor,
    wakeups,
    defaultCapacity: config.tasks.agentCapacity,
    onAssigned: (priority, waitedMs) => taskMetrics.assigned(priority, waitedMs),
    onOutcome: (outcome) => taskMetrics.outcome(outcome),
    onUnclaimed: unclaimed,
    nodeName: config.node.name,
    bodyLimitBytes: config.coordinator.bodyLimitBytes,
    maxTaskBytes: config.tasks.maxTaskBytes,
    maxTimeoutMs: config.tasks.maxTimeoutMs,
  }
  return { tasks, balancer, sweeper, wakeups, distributor, routes }
}

/** The bounds /openapi.json states, from the config that enforces them. */
export function openApiLimits(config: Readonly<Config>, version: string): OpenApiLimits {
  return {
    maxTaskTimeoutMs: config.tasks.maxTimeoutMs,
    maxOpsTimeoutMs: config.ops.maxTimeoutMs,
    maxMessageTtlMs: config.messages.maxTtlMs,
    version,
  }
}
