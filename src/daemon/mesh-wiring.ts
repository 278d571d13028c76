import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import {
  type HealthCheck,
  type MessageRouteDeps,
  type NodeRouteDeps,
  type RedisClient,
  type RedisKeys,
  RedisBindingStore,
  RedisMessageStore,
} from '../coordinator/index.js'
import { type ChainReading, ChainMonitor, ChainRpc } from '../ops/index.js'
import { type LocalStatus, Mesh, readPskFile, type Refusal, type RefusalReason, SenderRate } from '../p2p/index.js'
import { ClusterIdReader } from './cluster-id-reader.js'
import type { Config } from './config/schema.js'
import type { Component } from './lifecycle.js'
import type { LogRoot } from './logger.js'
import { createMeshMetrics } from './mesh-metrics.js'
import { createMessageMetrics } from './message-metrics.js'
import type { RegistryLocation } from './redis-connection.js'
import { VERSION } from './version.js'

/** The mesh and what the API needs from it. */
export interface MeshParts {
  mesh: Mesh
  /** In start order: cluster id, chain monitor, mesh. */
  components: Component[]
  nodes: NodeRouteDeps
  messages: MessageRouteDeps
  extraChecks(): Record<string, HealthCheck>
  /** Tells the mesh the API URL once the HTTP listener has its port. */
  setApiUrl(url: string): void
  /** The last chain reading, or null when no chain is configured. */
  chainReading(): ChainReading | null
  /** Reads the chain RPC now (null when no chain is configured). */
  pollChain(): Promise<ChainReading | null>
  /** The registry's cluster id, once read. */
  clusterId(): string | null
  /** Tells the status gossip how many operations run here (the engine is built after the mesh). */
  setRunningOps(count: () => number): void
  /** Counts a refusal decided outside the mesh (a forbidden node action). */
  countRefusal(reason: RefusalReason): void
}

interface RegistryParts {
  client: RedisClient
  location: RegistryLocation
  keys: RedisKeys
}

/** Builds the p2p side of the daemon: chain monitor, registry fingerprint, mesh, metrics and logs. */
export async function buildMesh(
  config: Readonly<Config>,
  logs: LogRoot,
  registry: RegistryParts,
  metricsRegistry: Registry,
): Promise<MeshParts> {
  const log = logs.component('p2p:view')
  const { client, location, keys } = registry
  const clusterId = new ClusterIdReader(client, keys, config.p2p.statusIntervalMs, logs.component('redis'))
  let mesh: Mesh | null = null
  // A chain change is published at once instead of at the next status tick.
  const chain = config.chain.rpcUrl === null
    ? null
    : new ChainMonitor(
        new ChainRpc(config.chain.rpcUrl, config.chain.timeoutMs),
        config.p2p.statusIntervalMs,
        logs.component('ops:chain'),
        () => mesh?.gossip.publish(),
      )
  const metrics = createMeshMetrics(metricsRegistry)
  let apiUrl: string | null = null
  let runningOps = (): number => 0

  const local = (): LocalStatus => {
    const reading = chain?.current() ?? null
    const problems: string[] = []
    if (reading?.problem != null) problems.push(reading.problem)
    if (client.status !== 'ready') problems.push('Redis registry unreachable')
    return {
      chain: reading?.chain ?? null,
      last_sync: reading?.lastSync ?? null,
      git_head: null,
      registry: { cluster_id: clusterId.clusterId, host: location.hosts.join(','), db: location.db, prefix: location.prefix },
      running_ops: runningOps(),
      coordinator_url: apiUrl,
      problems,
    }
  }

  const messageMetrics = createMessageMetrics(metricsRegistry)
  const store = new RedisMessageStore({
    redis: client,
    keys,
    node: config.node.name,
    inboxBounds: config.messages.inbox,
    outboxBounds: config.messages.outbox,
    onInbox: (size) => messageMetrics.inbox(size),
    onOutbox: (size) => {
      messageMetrics.outbox(size)
      if (size.refused) messageMetrics.refused('outbox_full')
    },
  })
  const apiRate = new SenderRate(config.messages.rate)
  const refusalLog = refusalLogger(logs.component('p2p:identity'))
  mesh = await Mesh.create({
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
    local,
    messageStore: store,
    inboundLimits: { maxBodyBytes: config.messages.maxBodyBytes, rate: config.messages.rate },
    onMessageLimited: (reason) => messageMetrics.refused(reason),
    outboxBounds: config.messages.outbox,
    bindingStore: new RedisBindingStore(client, keys),
    onRefused: (r) => {
      metrics.refused(r.reason)
      refusalLog(r)
    },
    log: (c) => logs.component(c),
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
  })
  metrics.attach(mesh)

  const components: Component[] = [clusterId]
  if (chain !== null) components.push({ name: 'chain monitor', start: () => chain.start(), stop: async () => chain.stop() })
  components.push({ name: 'p2p mesh', start: () => mesh.start(), stop: () => mesh.stop() })

  return {
    mesh,
    components,
    nodes: {
      nodes: () => mesh.view.snapshot(),
      refusals: () => metrics.refusals(),
      forget: (name) => mesh.bindings.forget(name),
    },
    messages: {
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
      onRefused: (reason) => messageMetrics.refused(reason),
    },
    extraChecks: () => {
      const mismatches = mesh.problems()
      const rows = mesh.view.snapshot()
      // A peer that is not online is worth a warning (the API still works: 200, "degraded").
      const peers = rows.filter((r) => !r.self && r.status !== 'online').map((r) => `node ${r.name} is ${r.status}${r.reason === null ? '' : ` (${r.reason})`}`)
      const reading = chain?.current() ?? null
      return {
        mesh: {
          ok: mismatches.length === 0 && peers.length === 0,
          warnings: [...mismatches, ...peers],
          peer_id: mesh.peerId,
          connected_peers: mesh.connectedPeers(),
          nodes: rows.length,
          online: rows.filter((r) => r.status === 'online').length,
          registry_mismatches: mismatches,
        },
        chain: {
          ok: reading === null || reading.problem === null,
          warnings: reading?.problem == null ? [] : [reading.problem],
          configured: chain !== null,
          height: reading?.chain?.height ?? null,
          last_sync: reading?.lastSync ?? null,
          error: reading?.problem ?? null,
        },
      }
    },
    setApiUrl: (url) => {
      apiUrl = url
    },
    chainReading: () => chain?.current() ?? null,
    pollChain: async () => (chain === null ? null : chain.readNow()),
    clusterId: () => clusterId.clusterId,
    setRunningOps: (count) => {
      runningOps = count
    },
    countRefusal: (reason) => metrics.refused(reason),
  }
}

/**
 * Logs refusals: a taken name or a forged sender as an error naming both
 * ids, the rest as warnings; after 100 lines a minute the rest is only counted
 * (a flood of invented names must not flood the log).
 */
function refusalLogger(log: Logger): (r: Refusal) => void {
  let windowStart = 0
  let lines = 0
  return (r) => {
    const now = Date.now()
    if (now - windowStart > 60_000) {
      if (lines > 100) log.warn({ suppressed: lines - 100 }, `${lines - 100} more refusals in the last minute were counted, not logged`)
      windowStart = now
      lines = 0
    }
    if (++lines > 100) return
    const fields = { reason: r.reason, node: r.name, peerId: r.peerId }
    if (r.reason === 'name_taken' || r.reason === 'forged_from') log.error(fields, r.message)
    else log.warn(fields, r.message)
  }
}

/** The keepalive as configured, or a third of the suspicion age (at most 3 s, at least the check interval). */
export function statusKeepaliveMs(p2p: Config['p2p']): number {
  return p2p.statusKeepaliveMs ?? Math.max(p2p.statusIntervalMs, Math.min(3000, Math.floor(p2p.suspectAfterMs / 3)))
}
