import { execFile } from 'node:child_process'
import { statfs } from 'node:fs/promises'
import { promisify } from 'node:util'
import { Gauge, type Registry } from 'prom-client'
import { z } from 'zod'
import { checkRedis, type RedisClient, type RedisKeys, RedisOpsJournal } from '../coordinator/index.js'
import {
  checkAction,
  type ClusterAccess,
  configDigests,
  controlService,
  coordinateRunner,
  readConfigFile,
  runAction,
  sshExec,
  writeConfigFile,
  syncGit,
  syncRunner,
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
export const AVAILABLE_OPERATIONS = ['status', 'health', 'sync', 'message', 'coordinate'] as const

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
    // A live check reads the chain RPC now rather than the last poll.
    const reading = await parts.pollChain()
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
  // Node-local actions: served to peers over the RPC, and called directly for this node.
  const handlers: Record<string, { params: z.ZodType, run(params: never, signal: AbortSignal): Promise<unknown> }> = {
    'node.status': { params: z.null(), run: () => probe.status() },
    'node.health': { params: z.null(), run: () => probe.health() },
    'node.git.sync': {
      params: z.strictObject({ apply: z.boolean() }),
      run: (p: { apply: boolean }, signal) => syncGit(config.ops.gitDir, signal, p.apply),
    },
    'node.chain': {
      params: z.null(),
      run: async () => {
        const r = await parts.pollChain()
        return { height: r?.chain?.height ?? null, hash: r?.chain?.hash ?? null, mempool_size: r?.chain?.mempool_size ?? null, error: r?.problem ?? (r === null ? 'no chain.rpcUrl on this node' : null) }
      },
    },
    'node.service': {
      // Only the chain service, and only these verbs: never a free command line.
      params: z.strictObject({ verb: z.enum(['restart', 'start', 'is-active']) }),
      run: (p: { verb: 'restart' | 'start' | 'is-active' }, signal) => controlService(config.ops.serviceManager, p.verb, config.ops.chainService, signal),
    },
    'node.config.digests': {
      params: z.null(),
      run: async () => ({ files: await configDigests(config.ops.configFiles), registry: parts.clusterId() }),
    },
    'node.config.read': {
      params: z.strictObject({ name: z.string().max(255) }),
      run: (p: { name: string }) => readConfigFile(config.ops.configFiles, p.name),
    },
    'node.config.write': {
      params: z.strictObject({ name: z.string().max(255), content_b64: z.string().max(8 * 1024 * 1024) }),
      run: (p: { name: string, content_b64: string }) => writeConfigFile(config.ops.configFiles, p.name, p.content_b64),
    },
    'node.action': {
      params: z.strictObject({ name: z.string().max(100) }),
      run: async (p: { name: string }, signal) => {
        const action = config.ops.actions[p.name]
        if (action === undefined) return { ok: false, exit_code: null, output: `action ${p.name} is not in ops.actions on ${config.node.name}` }
        return runAction(action.command, action.timeoutMs, signal)
      },
    },
  }
  for (const [name, h] of Object.entries(handlers)) {
    mesh.rpc.register(name, { params: h.params, handler: (p, ctx) => h.run(p as never, ctx.signal) })
  }
  const access: ClusterAccess = {
    selfName: config.node.name,
    nodeNames: () => [config.node.name, ...mesh.view.peerNames()],
    view: () => mesh.view.snapshot(),
    call: (node, method, params, opts) => mesh.rpc.call(node, method, params, opts),
    invoke: (node, method, params, signal, deadlineAt) => {
      if (node === config.node.name) {
        const h = handlers[method]
        if (h === undefined) return Promise.reject(new Error(`no local action ${method}`))
        return h.run(h.params.parse(params) as never, signal)
      }
      return mesh.rpc.call(node, method, params, { timeoutMs: Math.max(1, deadlineAt - Date.now()) + 1000, signal })
    },
    local: probe,
    send: (to, body, ttlMs, waitMs) => mesh.messenger.send({ to, body, ttlMs, waitMs }),
    suspectAfterMs: config.p2p.suspectAfterMs,
    sshCheck: async (node, force, signal) => {
      const peer = config.p2p.peers.find((p) => p.name === node)
      if (peer?.ssh === undefined) return null
      const target = { node, ...peer.ssh, knownHostsFile: config.ssh.knownHostsFile }
      const opts = { connectTimeoutMs: config.ssh.connectTimeoutMs, commandTimeoutMs: config.ssh.commandTimeoutMs, signal }
      // Fixed templates with quoted arguments: nothing from the request reaches the command line.
      const state = async (service: string): Promise<string> =>
        (await sshExec(target, [config.ops.serviceManager, 'is-active', service], opts)).output.split('\n').pop() || 'unknown'
      const daemon = await state(config.ops.daemonService)
      const chain = await state(config.ops.chainService)
      let started = false
      if (force && daemon !== 'active') {
        const res = await sshExec(target, [config.ops.serviceManager, 'start', config.ops.daemonService], opts)
        started = res.code === 0
      }
      return { daemon, chain, started }
    },
  }
  const engine = new OpsEngine({
    node: config.node.name,
    maxConcurrent: config.ops.maxConcurrent,
    maxQueued: config.ops.maxQueued,
    peerConcurrency: config.ops.peerConcurrency,
    defaultTimeoutMs: config.ops.defaultTimeoutMs,
    journal: new RedisOpsJournal(redis.client, redis.keys),
    runners: {
      status: statusRunner(access, false),
      health: statusRunner(access, true),
      sync: syncRunner(access),
      message: messageRunner(access),
      coordinate: coordinateRunner(access, config.ops.peerConcurrency, config.ops.stopAfterFailures),
    },
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
  ] as const) {
    new Gauge({ name, help, registers: [metrics], collect() {
      this.set(read())
    } })
  }
  return { engine, component: { name: 'operations', start: () => engine.start(), stop: () => engine.stop() } }
}
