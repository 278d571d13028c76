import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  AgentRegistry,
  createCoordinatorApp,
  createHttpMetrics,
  RedisHealthMonitor,
  redisKeys,
  RedisOpEvents,
  RedisOpsJournal,
} from '../coordinator/index.js'
import {
  ActionSlots,
  ChainMonitor,
  ChainRpc,
  chainHealth,
  LeftoverGroups,
  NodeActionServer,
  OpsEngine,
  ProcessGroupFiles,
} from '../ops/index.js'
import { Mesh, meshHealth } from '../p2p/index.js'
import { ClusterIdReader } from './cluster-id-reader.js'
import type { Config } from './config/schema.js'
import { registerDaemonMetrics } from './daemon-metrics.js'
import { EmbeddedRedis } from './embedded-redis.js'
import { HttpListener } from './http-server.js'
import type { LogRoot } from './logger.js'
import { registerMeshGauges } from './mesh-metrics.js'
import { buildMesh, messageRouteDeps, nodeRouteDeps } from './mesh-init.js'
import { AVAILABLE_OPERATIONS, clusterAccess, nodeActionServerInit, opsEngineInit, registerNodeActions } from './ops-init.js'
import { registerOpsGauges } from './ops-metrics.js'
import { createRedisClient, RedisConnection, type RegistryLocation } from './redis-connection.js'
import { RegistryUpkeep } from './registry-upkeep.js'
import { apiHostNames, resolveAnonymous, resolveMeshSecurity } from './secure-defaults.js'
import { ServiceGraph, StartError } from './startable.js'
import { buildTaskEngine, openApiLimits } from './tasks-init.js'
import { VERSION } from './version.js'

/** A started daemon. */
export interface RunningDaemon {
  /** URL of the coordinator API. */
  readonly apiUrl: string
  readonly registry: RegistryLocation
  /** This node's libp2p peer id. */
  readonly peerId: string
  /** Graceful stop: drain HTTP, then stop every service in reverse order. */
  stop(): Promise<void>
}

/** The daemon's services, built and not started. */
export interface DaemonGraph {
  /** Every service, in start order. */
  readonly services: ServiceGraph
  /** Where the Redis registry is, without secrets. */
  readonly registry: RegistryLocation
  /** The p2p side (its peer id and addresses are logged once started). */
  readonly mesh: Mesh
  /** The coordinator API's listener (its URL is known once started). */
  readonly http: HttpListener
}

/**
 * The composition root: builds every service of the daemon once, in start
 * order, and only wires them. Where two services need each other (the mesh
 * gossips the engine's running count, the engine runs over the mesh), one of
 * them reads the other through a function called once the graph has started.
 */
export async function buildDaemon(config: Readonly<Config>, logs: LogRoot): Promise<DaemonGraph> {
  const log = logs.component('daemon')
  const services = new ServiceGraph((name, err) => log.error({ err, component: name }, 'component failed to stop'))

  const redisUrl = config.redis.url ?? services.add('embedded redis', new EmbeddedRedis({
    dir: join(config.node.dataDir, 'redis'),
    port: config.redis.embedded.port,
    binary: config.redis.embedded.binary,
    log: logs.component('redis:embedded'),
  })).url
  const { client, location } = createRedisClient(redisUrl, config.redis.prefix)
  services.add('redis client', new RedisConnection(client, location, logs.component('redis')))
  // /health answers from this, refreshed in the background and marked down the moment the connection drops.
  const redisHealth = services.add('redis health', new RedisHealthMonitor({
    redis: client, pingIntervalMs: config.redis.healthPingMs, hungAfterMs: config.redis.hungAfterMs,
  }))

  const keys = redisKeys(config.redis.prefix)
  const registry = new AgentRegistry(client, keys)
  services.add('registry upkeep', new RegistryUpkeep(registry, log))
  const metrics = createHttpMetrics({ defaultMetrics: true })
  const taskEngine = buildTaskEngine(config, {
    client, keys, registry, metrics: metrics.registry,
    log: logs.component('coordinator:tasks'), sweeperLog: logs.component('coordinator:sweeper'), apiUrl: () => http.url,
  })
  services.add('agent sweeper', taskEngine.sweeper)
  services.add('task wake-ups', taskEngine.wakeups)
  services.add('task distributor', taskEngine.distributor)
  registerDaemonMetrics(metrics.registry, {
    version: VERSION, node: config.node.name, redisHealth: () => redisHealth.current, agentCounts: () => registry.counts(),
  })

  const clusterId = services.add('registry cluster id',
    new ClusterIdReader(client, keys, config.p2p.statusIntervalMs, logs.component('redis')))
  // A chain change is published at once instead of at the next status tick.
  const chain = config.chain.rpcUrl === null
    ? null
    : services.add('chain monitor', new ChainMonitor(
        new ChainRpc(config.chain.rpcUrl, config.chain.timeoutMs),
        config.p2p.statusIntervalMs,
        logs.component('ops:chain'),
        () => mesh.gossip.publish(),
      ))
  const { mesh, messageStore, meshMetrics, messageMetrics } = await buildMesh(config, logs, {
    client, keys, location, metrics: metrics.registry, chain,
    clusterId: () => clusterId.clusterId,
    runningOps: () => engine.runningCount,
    coordinatorUrl: () => http.url,
  })
  services.add('p2p mesh', mesh)
  registerMeshGauges(metrics.registry, mesh)

  const journal = new RedisOpsJournal(client, keys, logs.component('ops:journal'))
  const groups = new ProcessGroupFiles(join(config.node.dataDir, 'action-groups'))
  const slots = new ActionSlots(config.ops.maxConcurrent)
  const actionServer = new NodeActionServer(nodeActionServerInit(config, logs, {
    mesh, journal, slots, groups, client,
    readChain: async () => (chain === null ? null : chain.readNow()),
    clusterId: () => clusterId.clusterId,
    onForbidden: () => meshMetrics.refused('forbidden'),
  }))
  registerNodeActions(mesh.rpc, actionServer)
  services.add('leftover action groups', new LeftoverGroups(groups, logs.component('ops:actions')))
  const events = services.add('operation events', new RedisOpEvents({
    redis: client, subscriber: client.duplicate(), keys, log: logs.component('ops:events'),
  }))
  const access = clusterAccess(config, mesh, actionServer)
  const engine = services.add('operations', new OpsEngine(opsEngineInit(config, logs, { access, journal, events })))
  registerOpsGauges(metrics.registry, engine, slots)

  const app = createCoordinatorApp({
    registry,
    redisHealth: () => redisHealth.current,
    uiDir: fileURLToPath(new URL('../ui', import.meta.url)),
    auth: { tokens: config.auth.tokens, anonymous: resolveAnonymous(config) },
    allowedHosts: apiHostNames(config),
    metrics,
    nodes: nodeRouteDeps(mesh, meshMetrics),
    messages: messageRouteDeps(config, mesh, messageStore, messageMetrics),
    ops: {
      engine,
      events,
      journal,
      bodyLimitBytes: config.coordinator.bodyLimitBytes,
      maxTimeoutMs: config.ops.maxTimeoutMs,
      available: AVAILABLE_OPERATIONS,
    },
    tasks: taskEngine.routes,
    extraChecks: () => ({ mesh: meshHealth(mesh), chain: chainHealth(chain) }),
    log: logs.component('coordinator:http'),
    nodeName: config.node.name,
    version: VERSION,
    bodyLimitBytes: config.coordinator.bodyLimitBytes,
    staleAfterMs: config.agents.staleAfterMs,
    openapi: openApiLimits(config, VERSION),
  })
  const http = services.add('coordinator http', new HttpListener(
    app,
    config.coordinator.host,
    config.coordinator.port,
    config.coordinator.shutdownTimeoutMs,
    {
      headersTimeoutMs: config.coordinator.headersTimeoutMs,
      requestTimeoutMs: config.coordinator.requestTimeoutMs,
      maxConnections: config.coordinator.maxConnections,
    },
  ))
  return { services, registry: location, mesh, http }
}

/** Builds the daemon, starts every service in order and logs it ready. */
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
  const graph = await buildDaemon(config, logs)
  await graph.services.start()
  const apiUrl = graph.http.url
  if (apiUrl === null) throw new StartError('the coordinator API did not start listening')
  log.info(
    {
      node: config.node.name,
      api: apiUrl,
      registry: graph.registry,
      anonymous,
      meshSecurity,
      version: VERSION,
      peerId: graph.mesh.peerId,
      p2p: graph.mesh.addresses(),
    },
    'daemon ready',
  )
  return {
    apiUrl,
    registry: graph.registry,
    peerId: graph.mesh.peerId,
    stop: () => graph.services.stop(),
  }
}
