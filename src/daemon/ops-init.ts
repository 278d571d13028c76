import {
  checkRedis,
  type RedisClient,
  type RedisOpEvents,
  type RedisOpsJournal,
} from '../coordinator/index.js'
import {
  type ActionSlots,
  type ChainReading,
  checkAction,
  type ClusterAccess,
  coordinateRunner,
  messageRunner,
  NODE_ACTIONS,
  nodeActionClient,
  nodeActionHandlers,
  type NodeActionServer,
  type NodeActionServerInit,
  type OpsEngineInit,
  type ProcessGroupFiles,
  resolveTargets,
  sshFallbackCheck,
  statusRunner,
  syncRunner,
} from '../ops/index.js'
import type { Mesh, RpcService } from '../p2p/index.js'
import type { Config } from './config/schema.js'
import type { LogRoot } from './logger.js'
import { VERSION } from './version.js'

/** Operations that run in this version. */
export const AVAILABLE_OPERATIONS = ['status', 'health', 'sync', 'message', 'coordinate'] as const

/** What the node-action server reads besides the config. */
export interface NodeActionComponents {
  /** What the health action reports of the mesh. */
  mesh: Pick<Mesh, 'connectedPeers' | 'problems'>
  /** Where operations and their actions are recorded. */
  journal: RedisOpsJournal
  /** Bounds node actions running at once, for any caller. */
  slots: ActionSlots
  /** Records action process groups so a crash's leftovers can be killed. */
  groups: ProcessGroupFiles
  /** The registry client the health action checks. */
  client: RedisClient
  /** Reads the chain RPC now (null when no chain is configured). */
  readChain(): Promise<ChainReading | null>
  /** The registry's cluster id, once read. */
  clusterId(): string | null
  /** Counts a refused node action. */
  onForbidden(): void
}

/** The node-local actions this node serves, to its own operations and to peers alike. */
export function nodeActionServerInit(config: Readonly<Config>, logs: LogRoot, c: NodeActionComponents): NodeActionServerInit {
  return {
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
      readChain: c.readChain,
      connectedPeers: () => c.mesh.connectedPeers(),
      checkRedis: () => checkRedis(c.client),
      clusterId: c.clusterId,
      meshProblems: () => c.mesh.problems(),
      groups: c.groups,
    }),
    actionNeedsForce: (name) => config.ops.actions[name]?.requiresForce ?? null,
    findOp: (id) => c.journal.get(id),
    recordAction: (opId, rec) => c.journal.recordAction(opId, rec),
    slots: c.slots,
    readOnlyMaxMs: config.ops.defaultTimeoutMs,
    log: logs.component('ops:actions'),
    onForbidden: c.onForbidden,
  }
}

/** Peers reach the same server over RPC: the serving node enforces the contract, whoever asks. */
export function registerNodeActions(rpc: Pick<RpcService, 'register'>, server: NodeActionServer): void {
  for (const name of Object.keys(NODE_ACTIONS) as (keyof typeof NODE_ACTIONS)[]) {
    rpc.register(name, {
      params: NODE_ACTIONS[name].params,
      handler: (p, ctx) =>
        server.invoke(name, p, { name: ctx.caller, peerId: ctx.peer, opId: ctx.opId }, ctx.deadlineAt, ctx.signal),
    })
  }
}

/** The cluster as operations see it: members, their actions over the mesh, the SSH fallback. */
export function clusterAccess(config: Readonly<Config>, mesh: Mesh, server: NodeActionServer): ClusterAccess {
  const pathOf = (node: string) => config.p2p.peers.find((p) => p.name === node)?.ssh
  return {
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
}

/** The operation engine's settings and runners. */
export function opsEngineInit(
  config: Readonly<Config>,
  logs: LogRoot,
  c: { access: ClusterAccess, journal: RedisOpsJournal, events: RedisOpEvents },
): OpsEngineInit {
  const { access } = c
  return {
    node: config.node.name,
    maxConcurrent: config.ops.maxConcurrent,
    maxQueued: config.ops.maxQueued,
    peerConcurrency: config.ops.peerConcurrency,
    defaultTimeoutMs: config.ops.defaultTimeoutMs,
    journal: c.journal,
    events: c.events,
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
  }
}
