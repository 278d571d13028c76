import { execFile } from 'node:child_process'
import { statfs } from 'node:fs/promises'
import { promisify } from 'node:util'
import { Gauge, type Registry } from 'prom-client'
import { z } from 'zod'
import { checkRedis, type RedisClient, type RedisKeys, RedisOpsJournal } from '../coordinator/index.js'
import {
  type ClusterAccess,
  type LiveHealth,
  type LiveStatus,
  type LocalProbe,
  messageRunner,
  OpsEngine,
  resolveTargets,
  statusRunner,
} from '../ops/index.js'
import type { Config } from './config/schema.js'
import type { Component } from './lifecycle.js'
import type { LogRoot } from './logger.js'
import type { MeshParts } from './mesh-wiring.js'
import { VERSION } from './version.js'

const run = promisify(execFile)

/** Operations that run in this version. */
export const AVAILABLE_OPERATIONS = ['status', 'health', 'message'] as const

/** This node's own checks: what `status` and `health` ask every node for. */
function localProbe(config: Readonly<Config>, parts: MeshParts, redis: RedisClient): LocalProbe {
  const gitHead = async (): Promise<string | null> => {
    if (config.ops.gitDir === null) return null
    try {
      const { stdout } = await run('git', ['-C', config.ops.gitDir, 'log', '--oneline', '-1'], { timeout: 2000 })
      return stdout.trim() || null
    } catch {
      return null
    }
  }
  const status = async (): Promise<LiveStatus> => {
    const reading = parts.chainReading()
    return {
      node: config.node.name,
      version: VERSION,
      uptime_s: Math.round(process.uptime()),
      chain: reading?.chain ?? null,
      chain_error: reading?.problem ?? null,
      last_sync: reading?.lastSync ?? null,
      git_head: await gitHead(),
      p2p_connections: parts.mesh.connectedPeers(),
      time: Date.now(),
    }
  }
  return {
    status,
    health: async (): Promise<LiveHealth> => {
      const [base, r, disk] = await Promise.all([
        status(),
        checkRedis(redis),
        statfs(config.node.dataDir).then((s) => ({
          path: config.node.dataDir, free_bytes: s.bavail * s.bsize, total_bytes: s.blocks * s.bsize,
        }), () => null),
      ])
      const problems: string[] = []
      if (!r.ok) problems.push(`Redis registry unreachable: ${r.error}`)
      problems.push(...r.warnings)
      if (disk !== null && disk.free_bytes < 0.05 * disk.total_bytes) {
        problems.push(`disk almost full: ${Math.round(disk.free_bytes / 1e6)} MB free in ${disk.path}`)
      }
      problems.push(...parts.mesh.view.registryMismatches())
      return {
        ...base,
        redis: { ok: r.ok, aof_enabled: r.aof_enabled, maxmemory_policy: r.maxmemory_policy, error: r.error },
        registry_cluster_id: parts.clusterId(),
        disk,
        problems,
      }
    },
  }
}

/** Builds the operation engine on the mesh: RPC handlers for node-local actions, runners, journal. */
export function buildOps(
  config: Readonly<Config>,
  logs: LogRoot,
  parts: MeshParts,
  redis: { client: RedisClient, keys: RedisKeys },
  metrics: Registry,
): { engine: OpsEngine, component: Component } {
  const { mesh } = parts
  const probe = localProbe(config, parts, redis.client)
  mesh.rpc.register('node.status', { params: z.null(), handler: () => probe.status() })
  mesh.rpc.register('node.health', { params: z.null(), handler: () => probe.health() })
  const access: ClusterAccess = {
    selfName: config.node.name,
    nodeNames: () => [config.node.name, ...mesh.view.peerNames()],
    view: () => mesh.view.snapshot(),
    call: (node, method, params, opts) => mesh.rpc.call(node, method, params, opts),
    local: probe,
    send: (to, body, ttlMs, waitMs) => mesh.messenger.send({ to, body, ttlMs, waitMs }),
    suspectAfterMs: config.p2p.suspectAfterMs,
  }
  const engine = new OpsEngine({
    node: config.node.name,
    maxConcurrent: config.ops.maxConcurrent,
    maxQueued: config.ops.maxQueued,
    peerConcurrency: config.ops.peerConcurrency,
    defaultTimeoutMs: config.ops.defaultTimeoutMs,
    journal: new RedisOpsJournal(redis.client, redis.keys),
    runners: { status: statusRunner(access, false), health: statusRunner(access, true), message: messageRunner(access) },
    check: (req) => {
      resolveTargets(access, req.target_node)
    },
    log: logs.component('ops'),
  })
  for (const [name, help, read] of [
    ['aitbc_ops_running', 'Operations running on this daemon', () => engine.runningCount],
    ['aitbc_ops_queued', 'Operations waiting for a slot on this daemon', () => engine.queuedCount],
    ['aitbc_ops_peak_running', 'Most operations seen running at once on this daemon', () => engine.peakRunning],
  ] as const) {
    new Gauge({ name, help, registers: [metrics], collect() {
      this.set(read())
    } })
  }
  return { engine, component: { name: 'operations', start: () => engine.start(), stop: () => engine.stop() } }
}
