import fc from 'fast-check'
import t from 'tap'
import { MAX_JSON_DEPTH } from '../../src/coordinator/http/body.js'
import { OPENAPI } from '../fixtures/contract.js'
import { api, startDaemon } from '../fixtures/daemon.js'
import { startRedis } from '../fixtures/redis-server.js'

// Every documented route gets generated bodies, path params and queries (valid-looking
// and garbage alike). A user would notice a 5xx, a crash, or a registry changed by
// garbage; api() also checks each answer against the OpenAPI document.
const RUNS = Number(process.env.AITBC_FUZZ_RUNS ?? 100)
const redis = await startRedis()
t.teardown(() => redis.stop())
const d = await startDaemon({ args: ['--redis-url', redis.url, '--set', 'coordinator.bodyLimitBytes=65536'] })
t.teardown(() => d.stop())

const paths = OPENAPI.paths as Record<string, Record<string, unknown>>
const routes = Object.entries(paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path: p })))
  .filter((r) => r.path !== '/ops/{id}/events')
const segment = fc.oneof(fc.string({ maxLength: 40 }), fc.uuid(), fc.constantFrom('genesis', 'urgent', '..', '%2e%2e', 'a:b', '__proto__', ''))
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }),
  fc.dictionary(fc.constantFrom('agent_id', 'agent_type', 'task_data', 'priority', 'to', 'body', 'operation', 'target_node', 'status', 'strategy', 'result', 'error', '__proto__', 'constructor'), fc.jsonValue({ maxDepth: 3 })),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('', '{', '[]', 'null', '{"a":', '\u0000', '{"__proto__":{"x":1}}'),
)
const query = fc.dictionary(fc.constantFrom('wait', 'wait_ms', 'next', 'limit', 'x'), fc.oneof(fc.string({ maxLength: 10 }), fc.integer().map(String)), { maxKeys: 2 })

const registrySize = async (): Promise<number> => ((await api(d.url, 'POST', '/agents/discover', { limit: 1000 })).body.count as number)
const taskTotal = async (): Promise<number> => ((await api(d.url, 'GET', '/tasks/queues/stats')).body.total_queued as number)

t.test(`${routes.length} routes x ${RUNS} generated requests: never a 5xx, always the documented answer, the registry unchanged`, async (t) => {
  const agentsBefore = await registrySize()
  const queuedBefore = await taskTotal()
  const statuses = new Map<number, number>()
  for (const r of routes) {
    await fc.assert(fc.asyncProperty(fc.array(segment, { minLength: 2, maxLength: 2 }), body, query, async ([a, b], raw, q) => {
      let i = 0
      const path = r.path.replaceAll(/\{[^}]+\}/g, () => encodeURIComponent([a, b][i++] ?? ''))
      const qs = new URLSearchParams(q).toString()
      const sendBody = r.method === 'GET' || r.method === 'DELETE' ? undefined : typeof raw === 'string' ? raw : JSON.stringify(raw)
      const res = await api(d.url, r.method, `${path}${qs === '' ? '' : `?${qs}`}`, sendBody)
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      return res.status < 500
    }), { numRuns: RUNS })
  }
  t.comment(`answers: ${[...statuses].sort(([x], [y]) => x - y).map(([s, n]) => `${s}x${n}`).join(' ')}`)
  t.equal((await api(d.url, 'GET', '/health')).status, 200, 'the daemon still serves')
  t.equal(await registrySize(), agentsBefore, 'no agent appeared or vanished')
  t.ok((await taskTotal()) - queuedBefore <= 2, 'at most a stray valid submit (a generated {task_data: {...}} is a valid task)')
})

// deep-input.test.ts checks the other body routes on an in-process coordinator; these two need the mesh and operations.
t.test('JSON nested 2,000 and 5,000 deep gets 400 naming the limit on POST /messages and POST /ops, never a 500', async (t) => {
  const nested = (depth: number): string => `{"task_data":${'['.repeat(depth)}${']'.repeat(depth)}}`
  for (const depth of [2000, 5000]) {
    for (const [method, path] of [['POST', '/messages'], ['POST', '/ops']] as const) {
      const res = await api(d.url, method, path, nested(depth))
      t.equal(res.status, 400, `${method} ${path} at depth ${depth}`)
      t.match(res.body, { code: 'JSON_TOO_DEEP', message: new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`) })
    }
  }
})
