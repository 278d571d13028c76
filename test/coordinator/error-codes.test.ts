import { randomUUID } from 'node:crypto'
import { request } from 'node:http'
import t, { type Test } from 'tap'
import { ERROR_CODES, ERRORS, type ErrorCode, routeErrors, routeTable } from '../../src/coordinator/index.js'
import { configSchema } from '../../src/daemon/config/schema.js'
import { startCoordinator } from '../fixtures/coordinator.js'
import { checkContract } from '../fixtures/contract.js'
import { startRedis } from '../fixtures/redis-server.js'

// Each code of the catalog, sent by a real request to an in-process coordinator on a
// real Redis: the answer's status is the catalog's, the code is one the route's
// OpenAPI entry lists for that status, and the body matches its documented schema.
const table = routeTable({ maxTaskTimeoutMs: 3_600_000, maxOpsTimeoutMs: 120_000, maxMessageTtlMs: 86_400_000 })
const specOf = (method: string, path: string) => table
  .map((r) => ({ r, re: new RegExp(`^${r.path.replaceAll(/\{[^}]+\}/g, '[^/]+')}$`), params: (r.path.match(/\{/g) ?? []).length }))
  .sort((a, b) => a.params - b.params)
  .find((x) => x.r.method === method.toLowerCase() && x.re.test(path.split('?')[0]!))?.r

/** Codes this test cannot make an in-process coordinator send, and where they are sent. */
const ELSEWHERE: Partial<Record<ErrorCode, string>> = {
  BODY_UNREADABLE: 'a socket error while the body is read',
  UNSUPPORTED_ENCODING: 'raw-body refusing a charset; bodies are read as UTF-8',
  UI_NOT_BUILT: 'the dashboard routes (no uiDir here); test/ui',
  METHOD_NOT_ALLOWED: 'the dashboard routes (no uiDir here); test/ui',
  TASK_EXPIRED: 'a finished task past its retention; test/coordinator/tasks',
  MESSAGE_NOT_FOUND: 'the mesh (messages routes); test/p2p',
  MESSAGE_TOO_LARGE: 'the mesh (messages routes); test/p2p',
  RATE_LIMITED: 'the mesh (messages routes); test/p2p',
  OUTBOX_FULL: 'the mesh (messages routes); test/p2p',
  OPS_BUSY: 'the ops engine; test/ops/operations.test.ts',
  OPERATION_NOT_FOUND: 'the ops engine; test/ops',
  OPERATION_NOT_AVAILABLE: 'the ops engine; test/ops',
  OPERATION_ABORTED: 'the ops engine stopping mid-operation',
  INTERNAL: 'a bug',
}

const redis = await startRedis({ appendonly: false })
const token = (name: string) => `${name}-0123456789abcdef0123`
const api = await startCoordinator({
  redisUrl: redis.url,
  // A small queue bound and task size, one retry and no backoff: each refusal is reached in a few requests.
  engine: { tasks: { maxQueueSize: 100, maxTaskBytes: 64 * 1024, defaultMaxRetries: 1, retryBackoffMs: 0, agentCapacity: 2, strategy: 'least_connections' } },
  auth: {
    anonymous: false,
    tokens: [
      { name: 'reader', token: token('reader'), scopes: ['read'] },
      { name: 'agent', token: token('agent'), scopes: ['agent'] },
      { name: 'admin', token: token('admin'), scopes: ['admin'] },
    ],
  },
})
t.teardown(async () => {
  await api.close()
  await redis.stop()
})
const port = new URL(api.url).port

interface Sent { status: number, body: { code?: string } & Record<string, unknown> }
type SendOptions = { as?: string | null, body?: unknown, raw?: string, headers?: Record<string, string> }
function send(method: string, path: string, opts: SendOptions = {}): Promise<Sent> {
  const text = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body))
  const headers: Record<string, string> = {
    ...(opts.as === null ? {} : { authorization: `Bearer ${token(opts.as ?? 'admin')}` }),
    ...(text === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }),
    ...opts.headers,
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let data = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (data += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data === '' ? {} : JSON.parse(data) as Sent['body'] }))
    })
    req.on('error', reject)
    req.end(text)
  })
}

const seen = new Set<ErrorCode>()
async function expectCode(t: Test, code: ErrorCode, method: string, path: string, opts: SendOptions = {}): Promise<void> {
  const res = await send(method, path, opts)
  t.equal(res.body.code, code, `${method} ${path}: ${code}`)
  t.equal(res.status, ERRORS[code].status, `${code} is sent with the catalog's status ${ERRORS[code].status}`)
  const spec = specOf(method, path)
  if (spec !== undefined) t.ok(routeErrors(spec).includes(code), `${method} ${spec.path} documents ${code}`)
  t.doesNotThrow(() => checkContract(method, path, res.status, res.body), `${code}: the body matches the documented schema`)
  seen.add(code)
}

t.test('guard, auth, body and routing codes', async (t) => {
  await expectCode(t, 'HOST_NOT_ALLOWED', 'GET', '/health', { headers: { host: 'rebound.test' } })
  await expectCode(t, 'FOREIGN_ORIGIN', 'GET', '/agents/a1', { headers: { origin: 'http://other.test' } })
  await expectCode(t, 'UNSUPPORTED_MEDIA_TYPE', 'POST', '/agents/register', { raw: 'agent_id=a', headers: { 'content-type': 'text/plain' } })
  await expectCode(t, 'UNAUTHENTICATED', 'GET', '/agents/a1', { as: null })
  await expectCode(t, 'INVALID_TOKEN', 'GET', '/agents/a1', { as: 'nobody' })
  await expectCode(t, 'FORBIDDEN', 'POST', '/agents/register', { as: 'reader', body: { agent_id: 'a1', agent_type: 'worker' } })
  await expectCode(t, 'INVALID_JSON', 'POST', '/agents/register', { raw: '{"agent_id":' })
  await expectCode(t, 'JSON_TOO_DEEP', 'POST', '/tasks/submit', { raw: `${'['.repeat(70)}${']'.repeat(70)}` })
  await expectCode(t, 'FORBIDDEN_KEY', 'POST', '/tasks/submit', { raw: '{"task_data":{"__proto__":{"x":1}}}' })
  await expectCode(t, 'BODY_TOO_LARGE', 'POST', '/tasks/submit', { body: { task_data: { x: 'y'.repeat(configSchema.parse({}).coordinator.bodyLimitBytes + 10) } } })
  await expectCode(t, 'VALIDATION_FAILED', 'POST', '/agents/register', { body: { agent_id: '' } })
  await expectCode(t, 'VALIDATION_FAILED', 'GET', '/tasks/not-a-uuid')
  await expectCode(t, 'VALIDATION_FAILED', 'GET', '/agents/a1/tasks/next?wait_ms=99999', { as: 'agent' })
  await expectCode(t, 'NOT_FOUND', 'GET', '/no/such/route')
  await expectCode(t, 'HTTP_405', 'PATCH', '/agents/register', { body: {} })
})

t.test('domain codes of the agent and task routes', async (t) => {
  await expectCode(t, 'AGENT_NOT_FOUND', 'GET', '/agents/nobody-here')
  await expectCode(t, 'TASK_NOT_FOUND', 'GET', `/tasks/${randomUUID()}`)
  await expectCode(t, 'TASK_TOO_LARGE', 'POST', '/tasks/submit', { as: 'agent', body: { task_data: { x: 'y'.repeat(70 * 1024) } } })
  for (const id of ['w1', 'w2']) {
    t.equal((await send('POST', '/agents/register', { as: 'agent', body: { agent_id: id, agent_type: 'worker' } })).status, 200)
  }
  const submitted = await send('POST', '/tasks/submit', { as: 'agent', body: { task_data: { n: 1 } } })
  const id = submitted.body.task_id as string
  await expectCode(t, 'TASK_NOT_ASSIGNED', 'POST', `/tasks/${id}/complete`, { as: 'agent', body: { agent_id: 'w1' } })
  await expectCode(t, 'TASK_NOT_DEAD', 'POST', `/tasks/${id}/requeue`)
  const polled = await send('GET', '/agents/w1/tasks/next?wait_ms=2000', { as: 'agent' })
  t.equal((polled.body.task as { task_id: string } | undefined)?.task_id, id, 'w1 took it')
  await expectCode(t, 'TASK_WRONG_AGENT', 'POST', `/tasks/${id}/fail`, { as: 'agent', body: { agent_id: 'w2', error: 'not mine' } })
  t.equal((await send('POST', `/tasks/${id}/complete`, { as: 'agent', body: { agent_id: 'w1' } })).status, 200)
  await expectCode(t, 'TASK_ALREADY_FINISHED', 'POST', `/tasks/${id}/complete`, { as: 'agent', body: { agent_id: 'w1' } })
  // The queue bound set above is 100 per priority: the low queue fills, then one more is refused.
  const fill = Array.from({ length: 100 }, (_, i) => ({ task_data: { i }, priority: 'low' }))
  t.equal((await send('POST', '/tasks/submit-batch', { as: 'agent', body: { tasks: fill } })).status, 201)
  await expectCode(t, 'QUEUE_FULL', 'POST', '/tasks/submit', { as: 'agent', body: { task_data: { i: 101 }, priority: 'low' } })
  const batch = await send('POST', '/tasks/submit-batch', { as: 'agent', body: { tasks: [{ task_data: { i: 102 }, priority: 'low' }] } })
  t.match(batch, { status: 429, body: { code: 'QUEUE_FULL', refused: 1 } }, 'the batch route says QUEUE_FULL with each outcome')
  t.doesNotThrow(() => checkContract('POST', '/tasks/submit-batch', batch.status, batch.body))
})

t.test('503s: a daemon stopping, Redis gone', async (t) => {
  await redis.stop()
  await expectCode(t, 'REDIS_UNAVAILABLE', 'GET', '/agents/w1')
  api.startDraining()
  await expectCode(t, 'SHUTTING_DOWN', 'GET', '/agents/w1')
})

t.test('every code of the catalog was sent above, or is listed with where it is sent', async (t) => {
  const missing = ERROR_CODES.filter((c) => !seen.has(c) && ELSEWHERE[c] === undefined)
  t.same(missing, [], 'no code left untested')
  for (const c of Object.keys(ELSEWHERE) as ErrorCode[]) t.notOk(seen.has(c), `${c} is listed as sent elsewhere but was sent here`)
})
