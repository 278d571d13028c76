/**
 * Public face of the coordinator: what the daemon wires, tests and benches
 * use. The task and registry domains, the Koa API, and store/ (every Redis
 * adapter, also those implementing src/p2p's and src/ops' interfaces).
 */

export { type Agent, type AgentSlot } from './registry/agent.js'
export { AgentSweeper, type AgentSweeperInit } from './registry/agent-sweeper.js'
export { TaskDistributor, type TaskDistributorInit } from './tasks/task-distributor.js'
export { TaskError } from './tasks/task-errors.js'
export { TaskWakeups, type TaskWakeupsInit } from './tasks/task-wakeups.js'
export { TaskWaiter, type TaskWaiterInit } from './tasks/task-waiter.js'
export { handBackUnclaimed } from './tasks/hand-back.js'
export { type Priority, type Task } from './tasks/task.js'

export { AgentRegistry } from './store/agent-registry.js'
export { readClusterId } from './store/cluster-id.js'
export { LoadBalancerState } from './store/load-balancer-state.js'
export { RedisBindingStore } from './store/redis-binding-store.js'
export { type RedisClient } from './store/redis-client.js'
export { checkRedis, type RedisHealth } from './store/redis-health.js'
export { RedisHealthMonitor, type RedisHealthMonitorInit } from './store/redis-health-monitor.js'
export { type RedisKeys, redisKeys } from './store/redis-keys.js'
export { RedisMessageStore, type RedisMessageStoreInit } from './store/redis-message-store.js'
export { RedisOpEvents } from './store/redis-op-events.js'
export { RedisOpsJournal } from './store/redis-ops-journal.js'
export {
  DEFAULT_RETRY_FOR_MS,
  type LaterStepInit,
  nowOrWhenRegistryAnswers,
  RegistryNotAnsweringError,
  type RegistryRetryInit,
  retryWhileRegistryAway,
} from './store/registry-retry.js'
export { type Keep, type NextResult, type TaskLimits, TaskRepository } from './store/task-repository.js'

export { type CoordinatorApp, type CoordinatorAppInit, createCoordinatorApp, type HealthCheck } from './http/app.js'
export { type AuthSettings } from './http/auth.js'
export { createHttpMetrics } from './http/metrics.js'
export { buildOpenApi, type OpenApiLimits, routeErrors } from './http/openapi.js'
export { routeTable } from './http/routes/index.js'
export { ERROR_CODES, ERRORS, type ErrorCode } from './errors.js'
export { type MessageRouteDeps } from './http/routes/messages.js'
export { type NodeRouteDeps } from './http/routes/nodes.js'
