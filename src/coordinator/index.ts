/** Public face of the coordinator: the Redis registry and the Koa API. */

export { ApiError } from './errors.js'
export { type CoordinatorApp, type CoordinatorAppInit, createCoordinatorApp } from './http/app.js'
export { type ApiToken, type AuthSettings, SCOPES, type Scope } from './http/auth.js'
export { createHttpMetrics, type HttpMetrics } from './http/metrics.js'
export { type RedisKeys, redisKeys } from './redis-keys.js'
export { AGENT_STATUSES, type Agent, type AgentStatus } from './registry/agent.js'
export { AgentRegistry, type RedisClient, type SweepResult } from './registry/agent-registry.js'
export { AgentSweeper, type AgentSweeperInit } from './registry/agent-sweeper.js'
export { checkRedis, type RedisHealth } from './registry/redis-health.js'
