import { join } from 'node:path'
import type { Registry } from 'prom-client'
import {
  type MessageRouteDeps,
  type NodeRouteDeps,
  type RedisClient,
  RedisBindingStore,
  type RedisKeys,
  RedisMessageStore,
  type RedisMessageStoreInit,
} from '../coordinator/index.js'
import { type ChainMonitor, localStatus } from '../ops/index.js'
import {
  type BindingStore,
  type LocalStatus,
  Mesh,
  type MeshInit,
  type MessageStore,
  readPskFile,
  refusalLogger,
  SenderRate,
  statusKeepaliveMs,
} from '../p2p/index.js'
import type { Config } from './config/schema.js'
import type { LogRoot } from './logger.js'
import { createMeshMetrics, type MeshMetrics } from './mesh-metrics.js'
import { createMessageMetrics, type MessageMetrics } from './message-metrics.js'
import type { RegistryLocation } from './redis-connection.js'
import { StartError } from './startable.js'
import { VERSION } from './version.js'

/** What a node's mesh is built on: its Redis, its metrics registry and what its status reports. */
export interface MeshSources {
  client: RedisClient
  keys: RedisKeys
  /** Where the registry is, as the status names it (no secrets). */
  location: RegistryLocation
  /** Where the mesh's and the messages' counters are registered. */
  metrics: Registry
  chain: ChainMonitor | null
  clusterId(): string | null
  /** Operations running on this node now (read at each status). */
  runningOps(): number
  /** The coordinator API's URL (known once it listens). */
  coordinatorUrl(): string | null
}

/** A node's mesh, not started, with the store and counters the routes share with it. */
export interface BuiltMesh {
  mesh: Mesh
  messageStore: RedisMessageStore
  meshMetrics: MeshMetrics
  messageMetrics: MessageMetrics
}

/**
 * The mesh of a node from its config: messages and name bindings on Redis,
 * counters registered, and the local status it gossips. The daemon and the
 * in-process test node both build it here, so they cannot differ.
 */
export async function buildMesh(config: Readonly<Config>, logs: LogRoot, s: MeshSources): Promise<BuiltMesh> {
  const meshMetrics = createMeshMetrics(s.metrics)
  const messageMetrics = createMessageMetrics(s.metrics)
  const messageStore = new RedisMessageStore(messageStoreInit(config, logs, s.client, s.keys, messageMetrics))
  const { location, client } = s
  const mesh = await Mesh.create(meshInit(config, logs, {
    messageStore,
    bindingStore: new RedisBindingStore(client, s.keys),
    meshMetrics,
    messageMetrics,
    local: () => localStatus({
      chain: s.chain,
      registry: () => ({ cluster_id: s.clusterId(), host: location.hosts.join(','), db: location.db, prefix: location.prefix }),
      registryReachable: () => client.status === 'ready',
      runningOps: s.runningOps,
      coordinatorUrl: s.coordinatorUrl,
    }),
  })).catch((err: unknown) => {
    throw new StartError((err as Error).message, { cause: err })
  })
  return { mesh, messageStore, meshMetrics, messageMetrics }
}

/** What the mesh is built on besides the config. */
interface MeshComponents {
  /** Where messages wait (inbox, outbox, receipts). */
  messageStore: MessageStore
  /** The shared store of names pinned on first sight. */
  bindingStore: BindingStore
  /** Counters of transitions, refusals, receipts and drops. */
  meshMetrics: MeshMetrics
  /** Counters of messages refused by a bound, and box sizes. */
  messageMetrics: MessageMetrics
  /** What this node says about itself each status interval. */
  local(): LocalStatus
}

/** The mesh's settings from the config, its events routed to metrics and logs. */
function meshInit(config: Readonly<Config>, logs: LogRoot, c: MeshComponents): MeshInit {
  const log = logs.component('p2p:view')
  const { meshMetrics: metrics, messageMetrics } = c
  const refusalLog = refusalLogger(logs.component('p2p:identity'))
  const streamLog = logs.component('p2p:streams')
  return {
    selfName: config.node.name,
    keyFile: join(config.node.dataDir, 'node.key'),
    listen: config.p2p.listen,
    psk: config.p2p.pskFile === null ? null : readPskFile(config.p2p.pskFile),
    allowlist: config.p2p.allowlist,
    peers: config.p2p.peers,
    statusIntervalMs: config.p2p.statusIntervalMs,
    statusKeepaliveMs: statusKeepaliveMs(config.p2p),
    statusLinkedKeepaliveMs: config.p2p.statusLinkedKeepaliveMs,
    probe: config.p2p.probe,
    suspectAfterMs: config.p2p.suspectAfterMs,
    offlineAfterMs: config.p2p.offlineAfterMs,
    version: VERSION,
    local: c.local,
    messageStore: c.messageStore,
    inboundLimits: { maxBodyBytes: config.messages.maxBodyBytes, rate: config.messages.rate },
    onMessageLimited: (reason) => messageMetrics.refused(reason),
    outboxBounds: config.messages.outbox,
    bindingStore: c.bindingStore,
    onRefused: (r) => {
      metrics.refused(r.reason)
      refusalLog(r)
    },
    log: (component) => logs.component(component),
    onTransition: (t) => {
      metrics.transition(t)
      const fields = { node: t.name, from: t.from, to: t.to, reason: t.reason }
      if (t.to === 'online') log.info(fields, `node ${t.name} is online`)
      else log.warn(fields, `node ${t.name} is ${t.to}${t.reason === null ? '' : ` (${t.reason})`}`)
    },
    onRegistryMismatch: (name, mismatch) => {
      if (mismatch !== null) log.error({ node: name, mismatch }, mismatch)
      else log.info({ node: name }, `${name} now uses the same Redis registry as ${config.node.name}`)
    },
    onReceipt: (_target, state) => metrics.receipt(state),
    onInbound: () => metrics.inbound(),
    inbound: config.p2p.inbound,
    onInboundDrop: (reason) => metrics.inboundDropped(reason),
    malformedStatuses: config.p2p.malformedStatuses,
    onMalformedStatus: (kind) => metrics.malformedStatus(kind),
    onMalformedDisconnect: () => metrics.malformedDisconnect(),
    onWarningSuppressed: () => metrics.warningSuppressed(),
    onStatus: (event) => metrics.status(event),
    onStalled: (s) => {
      metrics.stalled(s.protocol)
      const who = s.name ?? `peer ${s.peer}`
      streamLog.warn({ node: s.name, peer: s.peer, protocol: s.protocol, unsent_bytes: s.bufferedBytes },
        `${who} stopped reading ${s.protocol}: its stream was cut off with ${s.bufferedBytes} bytes unsent (the bound); `
        + 'what was on it is sent again on a new stream')
    },
  }
}

/** What the message routes need: the messenger, the inbox and the API's own sender rate. */
export function messageRouteDeps(
  config: Readonly<Config>,
  mesh: Mesh,
  store: Pick<MessageStore, 'inbox'>,
  metrics: MessageMetrics,
): MessageRouteDeps {
  const apiRate = new SenderRate(config.messages.rate)
  return {
    send: (req) => mesh.messenger.send(req),
    get: (id) => mesh.messenger.get(id),
    inbox: (limit) => store.inbox(limit),
    targets: () => mesh.view.peerNames(),
    selfName: config.node.name,
    bodyLimitBytes: config.coordinator.bodyLimitBytes,
    defaultTtlMs: config.messages.defaultTtlMs,
    maxTtlMs: config.messages.maxTtlMs,
    maxMessageBytes: config.messages.maxBodyBytes,
    admit: (caller) => apiRate.take(caller),
    onRefused: (reason) => metrics.refused(reason),
  }
}

/** The node's message store: its bounds from the config, its sizes and refusals counted. */
function messageStoreInit(
  config: Readonly<Config>, logs: LogRoot, redis: RedisClient, keys: RedisKeys, messageMetrics: MessageMetrics,
): RedisMessageStoreInit {
  return {
    redis,
    keys,
    log: logs.component('p2p:messenger'),
    node: config.node.name,
    inboxBounds: config.messages.inbox,
    outboxBounds: config.messages.outbox,
    onInbox: (size) => messageMetrics.inbox(size),
    onOutbox: (size) => {
      messageMetrics.outbox(size)
      if (size.refused) messageMetrics.refused('outbox_full')
    },
  }
}

/** What GET /nodes and the binding route read of the mesh. */
export function nodeRouteDeps(mesh: Mesh, meshMetrics: MeshMetrics): NodeRouteDeps {
  return {
    nodes: () => mesh.view.snapshot(),
    refusals: () => meshMetrics.refusals(),
    forget: (name) => mesh.bindings.forget(name),
  }
}
