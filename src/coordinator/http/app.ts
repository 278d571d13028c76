import Router from '@koa/router'
import type { RequestListener } from 'node:http'
import Koa, { type Context, type Next } from 'koa'
import type { Logger } from 'pino'
import { ApiError } from '../errors.js'
import type { AgentRegistry } from '../store/agent-registry.js'
import type { RedisHealth } from '../store/redis-health.js'
import { type AuthSettings, authenticate } from './auth.js'
import { allowedHostSet, browserGuard, browserRefusal } from './browser-guard.js'
import { TaskWaiter } from '../tasks/task-waiter.js'
import { errorBodies } from './errors-middleware.js'
import type { HttpMetrics } from './metrics.js'
import { buildOpenApi, type OpenApiLimits } from './openapi.js'
import { mount } from './route-table.js'
import { agentRoutes } from './routes/agents.js'
import { daemonRoutes, openRoutes } from './routes/daemon.js'
import { type MessageRouteDeps, messageRoutes } from './routes/messages.js'
import { type NodeRouteDeps, nodeRoutes } from './routes/nodes.js'
import { type OpsRouteDeps, opsRoutes } from './routes/ops.js'
import { type TaskRouteDeps, taskRoutes } from './routes/tasks.js'
import { serveUi } from './ui.js'

/** One extra /health check (mesh, chain): it warns and degrades, but only Redis makes /health 503. */
export interface HealthCheck {
  ok: boolean
  warnings: string[]
  [detail: string]: unknown
}

/** Everything the coordinator API is built from. */
export interface CoordinatorAppInit {
  registry: AgentRegistry
  /** The shared Redis's health for /health, as last known (RedisHealthMonitor keeps it fresh). */
  redisHealth(): RedisHealth
  auth: AuthSettings
  metrics: HttpMetrics
  log: Logger
  nodeName: string
  version: string
  /** Host names besides nodeName, loopback names and IP literals: coordinator.host and .allowedHosts. */
  allowedHosts?: readonly string[]
  /** Largest accepted request body: coordinator.bodyLimitBytes. */
  bodyLimitBytes: number
  /** agents.staleAfterMs, told to agents when they register. */
  staleAfterMs?: number
  /** Where the prebuilt dashboard is (served at /ui; absent: no dashboard). */
  uiDir?: string
  /** The limits the OpenAPI document states (absent: no /openapi.json). */
  openapi?: OpenApiLimits
  /** The membership view for GET /nodes (absent: no route). */
  nodes?: NodeRouteDeps
  /** Messages with receipts (absent: no routes). */
  messages?: MessageRouteDeps
  /** Task queues and distribution (absent: no routes). */
  tasks?: TaskRouteDeps
  /** Coordinated operations (absent: no routes). */
  ops?: OpsRouteDeps
  /** Checks besides Redis shown by /health, by name. */
  extraChecks?(): Record<string, HealthCheck>
}

/** The Koa app plus the switch the daemon flips when it starts draining. */
export interface CoordinatorApp {
  readonly koa: Koa
  /** The request listener to serve: GET /health answered at once, everything else through Koa. */
  callback(): RequestListener
  /** From now on, new requests get 503 SHUTTING_DOWN while in-flight ones finish. */
  startDraining(): void
}

export function createCoordinatorApp(init: CoordinatorAppInit): CoordinatorApp {
  const koa = new Koa({ proxy: false })
  let draining = false
  const bodyLimitBytes = init.bodyLimitBytes
  const guard = { allowedHosts: [init.nodeName, ...(init.allowedHosts ?? [])] }
  const allowedHosts = allowedHostSet(guard)

  koa.on('error', (err: unknown) => init.log.debug({ err }, 'koa error event'))
  koa.use(init.metrics.middleware())
  koa.use(errorBodies(init.log))
  // Before every route, the dashboard's files and streams included, and before any route added below.
  koa.use(browserGuard(guard))
  koa.use(async (ctx: Context, next: Next) => {
    if (draining) {
      ctx.set('Connection', 'close')
      throw new ApiError(
        'SHUTTING_DOWN',
        `node ${init.nodeName} is shutting down`,
        'retry against another node',
      )
    }
    return next()
  })

  const health = healthAnswer(init)
  let doc: Record<string, unknown> | null = null
  const limits = init.openapi
  const daemonDeps = {
    metrics: init.metrics,
    health,
    // The API's description is no secret: served without a token, like /health. Built on first
    // request, not at start (it is most of a millisecond per schema, and the daemon's start waits).
    document: limits === undefined ? undefined : () => (doc ??= buildOpenApi(limits)),
  }
  const open = new Router()
  const served = openRoutes().filter((r) => r.path !== '/openapi.json' || limits !== undefined)
  for (const prefix of ['', '/v1']) mount(open, served.map((r) => ({ ...r, path: `${prefix}${r.path}` })), daemonDeps)
  koa.use(open.routes())
  if (init.uiDir !== undefined) koa.use(serveUi(init.uiDir))

  koa.use(authenticate(init.auth))
  const agents = { registry: init.registry, bodyLimitBytes, staleAfterMs: init.staleAfterMs }
  const tasks = init.tasks === undefined ? undefined : { ...init.tasks, waiter: new TaskWaiter(init.tasks) }
  for (const prefix of ['', '/v1']) {
    const router = new Router(prefix === '' ? {} : { prefix })
    mount(router, agentRoutes(), agents)
    if (init.nodes !== undefined) mount(router, nodeRoutes(), init.nodes)
    if (init.messages !== undefined) mount(router, messageRoutes({ maxTtlMs: init.messages.maxTtlMs }), init.messages)
    if (tasks !== undefined) mount(router, taskRoutes({ maxTimeoutMs: tasks.maxTimeoutMs }), tasks)
    if (init.ops !== undefined) mount(router, opsRoutes({ maxTimeoutMs: init.ops.maxTimeoutMs }), init.ops)
    mount(router, daemonRoutes(), daemonDeps)
    koa.use(router.routes())
    koa.use(router.allowedMethods({ throw: true }))
  }

  return {
    koa,
    callback: () => {
      const viaKoa = koa.callback()
      // A health probe (load balancers and monitors send many) costs one string and one write: its
      // answer is the one Koa's route gives, counted in the same metrics; draining goes through Koa (503).
      return (req, res) => {
        if (draining || req.method !== 'GET' || (req.url !== '/health' && req.url !== '/v1/health')) return viaKoa(req, res)
        // A request the browser guard refuses is refused by Koa, through the same middleware.
        if (browserRefusal(req, allowedHosts) !== null) return viaKoa(req, res)
        const started = performance.now()
        let answer: ReturnType<typeof health>
        try {
          answer = health()
        } catch {
          // A check that throws: Koa's route answers, through the error bodies (500 with a code).
          return viaKoa(req, res)
        }
        const { status, body } = answer
        res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) })
        res.end(body)
        init.metrics.record('GET', req.url, status, started)
      }
    },
    startDraining: () => {
      draining = true
    },
  }
}

/** How long GET /health's checks other than Redis's are reused (they read state the daemon keeps in memory). */
const HEALTH_FRESH_MS = 100

/**
 * GET /health's answer. Redis's health is the monitor's, kept fresh in the
 * background: a change to it (Redis known down) makes a new answer at once;
 * the other checks (mesh, chain) are read again when the last answer is
 * older than HEALTH_FRESH_MS. The timestamp is always now.
 */
function healthAnswer(init: CoordinatorAppInit): () => { status: number, body: string } {
  let made: { redis: RedisHealth, at: number, status: number, head: string, tail: string } | null = null
  return () => {
    const redis = init.redisHealth()
    const now = performance.now()
    if (made === null || made.redis !== redis || now - made.at > HEALTH_FRESH_MS) {
      const extra = init.extraChecks?.() ?? {}
      const healthy = redis.ok
      const degraded = Object.values(extra).some((c) => !c.ok)
      const status = healthy ? (degraded ? 'degraded' : 'healthy') : 'unhealthy'
      const head = JSON.stringify({ status, node: init.nodeName, version: init.version, timestamp: '' }).slice(0, -2)
      const tail = JSON.stringify({
        checks: { redis, ...extra },
        warnings: [...redis.warnings, ...Object.values(extra).flatMap((c) => c.warnings)],
      }).slice(1)
      made = { redis, at: now, status: healthy ? 200 : 503, head, tail }
    }
    return { status: made.status, body: `${made.head}${new Date().toISOString()}",${made.tail}` }
  }
}
