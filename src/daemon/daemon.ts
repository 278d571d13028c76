import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  AgentRegistry,
  AgentSweeper,
  createCoordinatorApp,
  createHttpMetrics,
  type RedisClient,
  RedisHealthMonitor,
  redisKeys,
  LoadBalancerState,
  TaskDistributor,
  type Task,
  TaskRepository,
  TaskWakeups,
} from '../coordinator/index.js'
import type { Config } from './config/schema.js'
import { EmbeddedRedis } from './embedded-redis.js'
import { HttpListener } from './http-server.js'
import { type Component, StartError, startAll, stopAll } from './lifecycle.js'
import type { LogRoot } from './logger.js'
import { buildMesh } from './mesh-wiring.js'
import { AVAILABLE_OPERATIONS, buildOps } from './ops-wiring.js'
import { registerDaemonMetrics } from './daemon-metrics.js'
import { createTaskMetrics, type TaskMetrics } from './task-metrics.js'
import { createRedisClient, type RegistryLocation } from './redis-connection.js'
import { apiHostNames, resolveAnonymous, resolveMeshSecurity } from './secure-defaults.js'
import { VERSION } from './version.js'

/** A started daemon. */
export interface RunningDaemon {
  /** URL of the coordinator API. */
  readonly apiUrl: string
  readonly registry: RegistryLocation
  /** This node's libp2p peer id. */
  readonly peerId: string
  /** Graceful stop: drain HTTP, then stop every component in reverse order. */
  stop(): Promise<void>
}

function redisComponent(client: RedisClient, location: RegistryLocation, logs: LogRoot): Component {
  const log = logs.component('redis')
  return {
    name: 'redis client',
    async start() {
      client.on('error', (err: Error) => log.debug({ err: err.message }, 'redis connection error'))
      client.on('ready', () => log.info({ registry: location }, 'connected to the Redis registry'))
      client.on('end', () => log.debug('redis connection ended'))
      try {
        await client.connect()
      } catch (err) {
        // Keep going: the client reconnects by itself and the API answers 503 until then.
        log.error(
          { err: (err as Error).message, registry: location },
          'Redis registry not reachable yet; API answers 503 until it is',
        )
      }
    },
    async stop() {
      client.disconnect()
    },
  }
}

/** The composition root: builds everything, starts in order, stops in reverse. */
export async function startDaemon(config: Readonly<Config>, logs: LogRoot): Promise<RunningDaemon> {
  const log = logs.component('daemon')
  const anonymous = resolveAnonymous(config)
  const meshSecurity = resolveMeshSecurity(config)
  if (anonymous) {
    log.warn({ api: `${config.coordinator.host}:${config.coordinator.port}` }, 'anonymous API: no auth.tokens, so every local process and user may call it as admin (browser pages may not); set AITBC_API_TOKEN or auth.tokens to require tokens')
  }
  if (meshSecurity === 'insecure') {
    log.warn({ listen: config.p2p.listen }, 'p2p.insecure: true: the mesh accepts a connection from any peer that reaches it (names are still bound to peer ids)')
  }
  if (config.tasks.pollIntervalMs !== undefined) {
    log.warn('tasks.pollIntervalMs is ignored: nothing polls any more (work is announced on Redis); tasks.reclaimIntervalMs sets how often expired leases are looked for at the least')
  }
  const components: Component[] = []

  let redisUrl = config.redis.url
  if (redisUrl === null) {
    const embedded = new EmbeddedRedis({
      dir: join(config.node.dataDir, 'redis'),
      port: config.redis.embedded.port,
      binary: config.redis.embedded.binary,
      log: logs.component('redis:embedded'),
    })
    components.push({ name: 'embedded redis', start: () => embedded.start(), stop: () => embedded.stop() })
    redisUrl = embedded.url
  }
  const { client, location } = createRedisClient(redisUrl, config.redis.prefix)
  components.push(redisComponent(client, location, logs))
  // /health answers from this, refreshed in the background and marked down the moment the connection drops.
  const redisHealth = new RedisHealthMonitor({
    redis: client, pingIntervalMs: config.redis.healthPingMs, hungAfterMs: config.redis.hungAfterMs,
  })
  components.push({ name: 'redis health', start: () => redisHealth.start(), stop: () => redisHealth.stop() })

  const keys = redisKeys(config.redis.prefix)
  const registry = new AgentRegistry(client, keys)
  components.push({
    name: 'discover index',
    async start() {
      // A registry older than discover's index gets it once (agents registered since are indexed as they register).
      const indexed = await registry.buildIndex().catch((err: unknown) => {
        log.warn({ err: (err as Error).message }, 'agents not indexed for discover now; the next start tries again')
        return -1
      })
      if (indexed > 0) log.info({ agents: indexed }, 'indexed the registered agents for discover')
    },
    async stop() {},
  })
  const sweeper = new AgentSweeper({
    registry,
    log: logs.component('coordinator:sweeper'),
    staleAfterMs: config.agents.staleAfterMs,
    removeAfterMs: config.agents.removeAfterMs,
    intervalMs: config.agents.sweepIntervalMs ?? undefined,
  })
  components.push({ name: 'agent sweeper', start: async () => sweeper.start(), stop: () => sweeper.stop() })

  let apiUrlNow: string | null = null
  let taskMetrics: TaskMetrics | null = null
  const tasks = new TaskRepository(client, keys, {
    defaultTimeoutMs: config.tasks.defaultTimeoutMs,
    defaultMaxRetries: config.tasks.defaultMaxRetries,
    maxQueueSize: config.tasks.maxQueueSize,
    retryBackoffMs: config.tasks.retryBackoffMs,
    agentCapacity: config.tasks.agentCapacity,
    defaultStrategy: config.tasks.strategy,
    agingMs: config.tasks.agingMs,
    retention: { completed: config.tasks.keepCompleted, failed: config.tasks.keepFailed, dead: config.tasks.keepDead },
  })
  const balancer = new LoadBalancerState(client, keys, config.tasks.strategy)
  const taskLog = logs.component('coordinator:tasks')
  // A task handed to a poll that had ended goes back to its queue, its attempt not counted.
  const unclaimed = (agentId: string, task: Task): void => {
    tasks.handBack(task.task_id, agentId)
      .then((res) => taskLog.info({ task: task.task_id, agent: agentId, res }, `task ${task.task_id} was handed to agent ${agentId} after its poll ended; back to its queue`))
      .catch((err: unknown) => taskLog.warn({ task: task.task_id, err: (err as Error).message }, `task ${task.task_id} could not be handed back; its lease will take it back`))
  }
  const instance = randomUUID()
  const wakeups = new TaskWakeups({
    subscriber: client.duplicate(), channel: keys.taskEvents, handOffChannel: keys.handOffs(instance), log: taskLog, instance,
    onUnclaimed: unclaimed,
  })
  components.push({ name: 'task wake-ups', start: () => wakeups.start(), stop: () => wakeups.stop() })
  const distributor = new TaskDistributor({
    tasks,
    registry,
    balancer,
    wakeups,
    log: logs.component('coordinator:tasks'),
    defaultCapacity: config.tasks.agentCapacity,
    reclaimIntervalMs: config.tasks.reclaimIntervalMs,
    pushTimeoutMs: config.tasks.pushTimeoutMs,
    circuit: config.tasks.pushCircuit,
    apiUrl: () => apiUrlNow,
    onAssigned: (priority, waitedMs) => taskMetrics?.assigned(priority, waitedMs),
  })
  components.push({ name: 'task distributor', start: async () => distributor.start(), stop: () => distributor.stop() })

  const metrics = createHttpMetrics({ defaultMetrics: true })
  taskMetrics = createTaskMetrics(metrics.registry, tasks)
  registerDaemonMetrics(metrics.registry, {
    version: VERSION, node: config.node.name, redisHealth: () => redisHealth.current, agentCounts: () => registry.counts(),
  })
  let mesh
  try {
    mesh = await buildMesh(config, logs, { client, location, keys }, metrics.registry)
  } catch (err) {
    throw new StartError((err as Error).message, { cause: err })
  }
  components.push(...mesh.components)
  const ops = buildOps(config, logs, mesh, { client, keys }, metrics.registry)
  components.push(ops.component)

  const app = createCoordinatorApp({
    registry,
    redisHealth: () => redisHealth.current,
    uiDir: fileURLToPath(new URL('../ui', import.meta.url)),
    auth: { tokens: config.auth.tokens, anonymous },
    allowedHosts: apiHostNames(config),
    metrics,
    nodes: mesh.nodes,
    messages: mesh.messages,
    ops: {
      engine: ops.engine,
      events: ops.events,
      journal: ops.journal,
      bodyLimitBytes: config.coordinator.bodyLimitBytes,
      maxTimeoutMs: config.ops.maxTimeoutMs,
      available: AVAILABLE_OPERATIONS,
    },
    tasks: {
      tasks,
      balancer,
      registry,
      distributor,
      wakeups,
      defaultCapacity: config.tasks.agentCapacity,
      onAssigned: (priority, waitedMs) => taskMetrics?.assigned(priority, waitedMs),
      onOutcome: (outcome) => taskMetrics?.outcome(outcome),
      onUnclaimed: unclaimed,
      nodeName: config.node.name,
      bodyLimitBytes: config.coordinator.bodyLimitBytes,
      maxTaskBytes: config.tasks.maxTaskBytes,
      maxTimeoutMs: config.tasks.maxTimeoutMs,
    },
    extraChecks: mesh.extraChecks,
    log: logs.component('coordinator:http'),
    nodeName: config.node.name,
    version: VERSION,
    bodyLimitBytes: config.coordinator.bodyLimitBytes,
    staleAfterMs: config.agents.staleAfterMs,
    openapi: {
      maxTaskTimeoutMs: config.tasks.maxTimeoutMs,
      maxOpsTimeoutMs: config.ops.maxTimeoutMs,
      maxMessageTtlMs: config.messages.maxTtlMs,
      version: VERSION,
    },
  })
  const http = new HttpListener(
    app,
    config.coordinator.host,
    config.coordinator.port,
    config.coordinator.shutdownTimeoutMs,
    {
      headersTimeoutMs: config.coordinator.headersTimeoutMs,
      requestTimeoutMs: config.coordinator.requestTimeoutMs,
      maxConnections: config.coordinator.maxConnections,
    },
  )
  components.push(http)

  const onStopError = (c: Component, err: unknown) =>
    log.error({ err, component: c.name }, 'component failed to stop')
  await startAll(components, onStopError)

  const shownHost = config.coordinator.host === '0.0.0.0' ? '127.0.0.1' : config.coordinator.host
  const apiUrl = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${http.port}`
  mesh.setApiUrl(apiUrl)
  apiUrlNow = apiUrl
  log.info(
    {
      node: config.node.name,
      api: apiUrl,
      registry: location,
      anonymous,
      meshSecurity,
      version: VERSION,
      peerId: mesh.mesh.peerId,
      p2p: mesh.mesh.addresses(),
    },
    'daemon ready',
  )
  return {
    apiUrl,
    registry: location,
    peerId: mesh.mesh.peerId,
    stop: () => stopAll(components, onStopError),
  }
}
