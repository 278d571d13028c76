import { join } from 'node:path'
import { Gauge, type Registry } from 'prom-client'
import { checkRedis, type RedisClient, type RedisKeys, RedisOpEvents, RedisOpsJournal } from '../coordinator/index.js'
import {
  ActionSlots,
  checkAction,
  type ClusterAccess,
  coordinateRunner,
  messageRunner,
  NODE_ACTIONS,
  nodeActionClient,
  nodeActionHandlers,
  NodeActionServer,
  OpsEngine,
  ProcessGroupFiles,
  resolveTargets,
  sshFallbackCheck,
  statusRunner,
  syncRunner,
} from '../ops/index.js'
import type { Config } from './config/schema.js'
import type { Component } from './lifecycle.js'
import type { LogRoot } from './logger.js'
import type { MeshParts } from './mesh-wiring.js'
import { VERSION } from './version.js'

/** Operations that run in this version. */
export const AVAILABLE_OPERATIONS = ['status', 'health', 'sync', 'message', 'coordinate'] as const

/** Builds the operation engine on the mesh: RPC handlers for node-local actions, runners, journal. */
export function buildOps(
  config: Readonly<Config>,
  logs: LogRoot,
  parts: MeshParts,
  redis: { client: RedisClient, keys: RedisKeys },
  metrics: Registry,
): { engine: OpsEngine, events: RedisOpEvents, journal: RedisOpsJournal, component: Component } {
  const { mesh } = parts
  const journal = new RedisOpsJournal(redis.client, redis.keys)
  const events = new RedisOpEvents({
    redis: redis.client, subscriber: redis.client.duplicate(), keys: redis.keys, log: logs.component('ops:events'),
  })
  const slots = new ActionSlots(config.ops.maxConcurrent)
  const groups = new ProcessGroupFiles(join(config.node.dataDir, 'action-groups'))
  const server = new NodeActionServer({
    self: config.node.name,
    handlers: nodeActionHandlers({
      self: config.node.name,
      version: VERSION,
      dataDir: config.node.dataDir,
      gitDir: config.ops.gitDir,
      serviceManager: config.ops.serviceManager,
      chainService: config.ops.chainService,
      configFiles: config.ops.configFiles,
      actions: config.ops.actions,
      readChain: () => parts.pollChain(),
      connectedPeers: () => mesh.connectedPeers(),
      checkRedis: () => checkRedis(redis.client),
      clusterId: () => parts.clusterId(),
      meshProblems: () => mesh.problems(),
      groups,
    }),
    actionNeedsForce: (name) => config.ops.actions[name]?.requiresForce ?? null,
    findOp: (id) => journal.get(id),
    recordAction: (opId, rec) => journal.recordAction(opId, rec),
    slots,
    readOnlyMaxMs: config.ops.defaultTimeoutMs,
    log: logs.component('ops:actions'),
    onForbidden: () => parts.countRefusal('forbidden'),
  })
  // Peers reach the same server: the serving node enforces the contract, whoever asks.
  for (const name of Object.keys(NODE_ACTIONS) as (keyof typeof NODE_ACTIONS)[]) {
    mesh.rpc.register(name, {
      params: NODE_ACTIONS[name].params,
      handler: (p, ctx) =>
        server.invoke(name, p, { name: ctx.caller, peerId: ctx.peer, opId: ctx.opId }, ctx.deadlineAt, ctx.signal),
    })
  }
  const pathOf = (node: string) => config.p2p.peers.find((p) => p.name === node)?.ssh
  const access: ClusterAccess = {
    selfName: config.node.name,
    nodeNames: () => [config.node.name, ...mesh.view.peerNames()],
    view: () => mesh.view.snapshot(),
    invoke: nodeActionClient(
      { name: config.node.name, peerId: mesh.peerId },
      server,
      (node, action, params, opts) => mesh.rpc.call(node, action, params, opts),
    ),
    send: (to, body, ttlMs, waitMs) => mesh.messenger.send({ to, body, ttlMs, waitMs }),
    suspectAfterMs: config.p2p.suspectAfterMs,
    sshCheck: (node, force, signal) => sshFallbackCheck({
      pathOf,
      knownHostsFile: config.ssh.knownHostsFile,
      connectTimeoutMs: config.ssh.connectTimeoutMs,
      commandTimeoutMs: config.ssh.commandTimeoutMs,
      serviceManager: config.ops.serviceManager,
      daemonService: config.ops.daemonService,
      chainService: config.ops.chainService,
    }, node, force, signal),
  }
  const engine = new OpsEngine({
    node: config.node.name,
    maxConcurrent: config.ops.maxConcurrent,
    maxQueued: config.ops.maxQueued,
    peerConcurrency: config.ops.peerConcurrency,
    defaultTimeoutMs: config.ops.defaultTimeoutMs,
    journal,
    events,
    runners: {
      status: statusRunner(access, false),
      health: statusRunner(access, true),
      sync: syncRunner(access),
      message: messageRunner(access),
      coordinate: coordinateRunner(access, config.ops.peerConcurrency, config.ops.stopAfterFailures),
    },
    targetsOf: (req) => resolveTargets(access, req.target_node),
    check: (req) => {
      resolveTargets(access, req.target_node)
      if (req.operation === 'coordinate') checkAction(config.ops.actions, req.action, req.force)
    },
    log: logs.component('ops'),
  })
  parts.setRunningOps(() => engine.runningCount)
  for (const [name, help, read] of [
    ['aitbc_ops_running', 'Operations running on this daemon', () => engine.runningCount],
    ['aitbc_ops_queued', 'Operations waiting for a slot on this daemon', () => engine.queuedCount],
    ['aitbc_ops_peak_running', 'Most operations seen running at once on this daemon', () => engine.peakRunning],
    ['aitbc_node_actions_running', 'Node actions running on this node, for any caller', () => slots.runningCount],
    ['aitbc_node_actions_waiting', 'Node actions waiting for a slot on this node', () => slots.waitingCount],
    ['aitbc_node_actions_peak_running', 'Most node actions seen running at once on this node', () => slots.peak],
  ] as const) {
    new Gauge({ name, help, registers: [metrics], collect() {
      this.set(read())
    } })
  }
  return {
    engine,
    events,
    journal,
    component: {
      name: 'operations',
      start: async () => {
        const left = groups.reapLeftovers()
        if (left.killed.length + left.reused.length > 0) {
          logs.component('ops:actions').warn(left, `killed ${left.killed.length} action process groups a crashed run left; ${left.reused.length} recorded pids now belong to other processes and were left alone`)
        }
        await events.start()
        await engine.start()
      },
      stop: async () => {
        await engine.stop()
        await events.stop()
      },
    },
  }
}
