import { join } from 'node:path'
import type { MessageRouteDeps, NodeRouteDeps, RedisClient, RedisKeys, RedisMessageStoreInit } from '../coordinator/index.js'
import {
  type BindingStore,
  type LocalStatus,
  type Mesh,
  type MeshInit,
  type MessageStore,
  readPskFile,
  refusalLogger,
  SenderRate,
  statusKeepaliveMs,
} from '../p2p/index.js'
import type { Config } from './config/schema.js'
import type { LogRoot } from './logger.js'
import type { MeshMetrics } from './mesh-metrics.js'
import type { MessageMetrics } from './message-metrics.js'
import { VERSION } from './version.js'

/** What the mesh is built on besides the config. */
export interface MeshComponents {
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
export function meshInit(config: Readonly<Config>, logs: LogRoot, c: MeshComponents): MeshInit {
  const log = logs.component('p2p:view')
  const { meshMetrics: metrics, messageMetrics } = c
  const refusalLog = refusalLogger(logs.component('p2p:identity'))
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
export function messageStoreInit(
  config: Readonly<Config>, redis: RedisClient, keys: RedisKeys, messageMetrics: MessageMetrics,
): RedisMessageStoreInit {
  return {
    redis,
    keys,
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
