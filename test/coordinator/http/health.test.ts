import { Redis } from 'ioredis'
import { pino } from 'pino'
import t from 'tap'
import { configSchema } from '../../../src/daemon/config/schema.js'
import {
  AgentRegistry, createCoordinatorApp, createHttpMetrics, type HealthCheck, type RedisHealth, redisKeys,
} from '../../../src/coordinator/index.js'
import { serveLocal } from '../../fixtures/http-server.js'
import { waitFor } from '../../fixtures/poll.js'
import { startRedis } from '../../fixtures/redis-server.js'

// GET /health is answered outside Koa (a probe costs a string and a write); these hold it to what
// Koa's route answers: the same body, 503 the moment Redis is known down, counted in the metrics.

const redis = await startRedis({ appendonly: false })
t.teardown(() => redis.stop())
const client = new Redis(redis.url)
t.teardown(() => client.disconnect())

const up: RedisHealth = {
  ok: true, latency_ms: 0.5, aof_enabled: false, aof_fsync: 'everysec', maxmemory_policy: 'noeviction',
  used_memory_bytes: 1000, maxmemory_bytes: 0, warnings: [], error: null,
}
let redisHealth = up
let mesh: HealthCheck = { ok: true, warnings: [], online: 3 }
let meshThrows = false
const metrics = createHttpMetrics({ defaultMetrics: false })
const app = createCoordinatorApp({
  registry: new AgentRegistry(client, redisKeys('health-test:')),
  redisHealth: () => redisHealth,
  extraChecks: () => {
    if (meshThrows) throw new Error('the mesh check broke')
    return { mesh }
  },
  auth: { tokens: [], anonymous: true },
  metrics,
  log: pino({ level: 'silent' }),
  nodeName: 'genesis',
  bodyLimitBytes: configSchema.parse({}).coordinator.bodyLimitBytes,
  version: '9.9.9',
})
const { url: base } = await serveLocal(t, app.callback())
const get = async (path: string, method = 'GET') => {
  const res = await fetch(`${base}${path}`, { method })
  const text = await res.text()
  return { status: res.status, type: res.headers.get('content-type'), body: method === 'HEAD' ? null : JSON.parse(text) as Record<string, unknown> }
}
const withoutTime = (b: Record<string, unknown> | null) => ({ ...b, timestamp: 'now' })

t.test('the answer is the one Koa gives, with the time of the request', async (t) => {
  const fast = await get('/health')
  const viaKoa = await get('/health?via=koa')
  t.equal(fast.status, 200)
  t.equal(fast.type, 'application/json; charset=utf-8')
  t.equal(viaKoa.type, fast.type)
  t.same(withoutTime(fast.body), withoutTime(viaKoa.body))
  t.match(fast.body, {
    status: 'healthy', node: 'genesis', version: '9.9.9', checks: { redis: { ok: true }, mesh: { ok: true, online: 3 } }, warnings: [],
  })
  const ms = Date.parse(String(fast.body!.timestamp))
  t.ok(Math.abs(Date.now() - ms) < 5000, 'timestamp is now')
  t.same(withoutTime((await get('/v1/health')).body), withoutTime(fast.body), '/v1/health too')
  t.equal((await get('/health', 'HEAD')).status, 200, 'HEAD goes through Koa')
})

t.test('Redis known down: 503 at the very next request', async (t) => {
  await get('/health')
  redisHealth = { ...up, ok: false, latency_ms: null, error: 'connect ECONNREFUSED', warnings: ['Redis is unreachable'] }
  const down = await get('/health')
  t.equal(down.status, 503)
  t.match(down.body, { status: 'unhealthy', checks: { redis: { ok: false, error: 'connect ECONNREFUSED' } }, warnings: ['Redis is unreachable'] })
  redisHealth = up
  t.equal((await get('/health')).status, 200, 'and 200 once it is back')
})

t.test('the other checks are read again within a tenth of a second', async () => {
  mesh = { ok: false, warnings: ['genesis: 2 of 3 nodes offline'], online: 1 }
  await waitFor('the mesh warning in /health', async () => {
    const { status, body } = await get('/health')
    return status === 200 && body?.status === 'degraded' && (body.warnings as string[]).includes('genesis: 2 of 3 nodes offline')
  }, { timeoutMs: 2000 })
  mesh = { ok: true, warnings: [], online: 3 }
  await waitFor('healthy again', async () => (await get('/health')).body?.status === 'healthy', { timeoutMs: 2000 })
})

t.test('counted in the metrics like any route', async (t) => {
  const before = await metrics.registry.getSingleMetricAsString('aitbc_http_requests_total')
  const count = (text: string) => Number(/route="\/health",status="200"\} (\d+)/.exec(text)?.[1] ?? 0)
  for (let i = 0; i < 5; i++) await get('/health')
  const after = await metrics.registry.getSingleMetricAsString('aitbc_http_requests_total')
  t.equal(count(after) - count(before), 5)
  t.match(await metrics.registry.getSingleMetricAsString('aitbc_http_request_duration_seconds'), /route="\/health"/)
})

t.test('a check that throws is a 500 with a code, and the listener lives on', async (t) => {
  await new Promise((r) => setTimeout(r, 150)) // past the reuse window, so the check runs again
  meshThrows = true
  const res = await get('/health')
  t.equal(res.status, 500)
  t.match(res.body, { status: 'error', code: String })
  meshThrows = false
  t.equal((await get('/health')).status, 200, 'answers again once the check works')
})

t.test('a draining daemon answers 503 SHUTTING_DOWN', async (t) => {
  app.startDraining()
  const res = await get('/health')
  t.equal(res.status, 503)
  t.match(res.body, { code: 'SHUTTING_DOWN' })
})
