import t from 'tap'
import { registerAgent, startPullAgent } from '../fixtures/agents.js'
import { api } from '../fixtures/api.js'
import { startCoordinator } from '../fixtures/coordinator.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// POST /tasks/submit-batch: many tasks in one request, each stored as /tasks/submit stores it.
const redis = await startRedis()
t.teardown(() => redis.stop())
const opts = { redisUrl: redis.url, prefix: 'batch:', engine: { tasks: { maxQueueSize: 5, maxTaskBytes: 1000 } } }
// On loopback without tokens, as agents of the local cluster call it.
const d = await startCoordinator(opts)
t.teardown(() => d.close())
const batch = (body: unknown) => api(d.url, 'POST', '/tasks/submit-batch', body)
const sizes = async () => (await api(d.url, 'GET', '/tasks/queues')).body.queue_sizes as Record<string, number>
type Item = { task_id?: string, priority?: string, duplicate?: boolean, error?: { code: string, message: string } }

t.test('a batch is stored in order, as single submits would be, and its tasks run', async (t) => {
  const res = await batch({ tasks: [
    { task_data: { n: 0 } },
    { task_data: { n: 1 }, priority: 'HIGH', idempotency_key: 'b-1' },
    { task_data: { n: 2 }, priority: 'high', idempotency_key: 'b-1' },
  ] })
  t.equal(res.status, 201)
  t.match(res.body, { status: 'success', submitted: 2, duplicates: 1, refused: 0 })
  const items = res.body.tasks as Item[]
  t.equal(items.length, 3, 'one outcome per task, in the order sent')
  t.match(items, [{ priority: 'normal', duplicate: false }, { priority: 'high', duplicate: false }, { priority: 'high', duplicate: true }])
  t.equal(items[2]!.task_id, items[1]!.task_id, 'a repeated idempotency key in the same batch names the first task')
  t.match((await api(d.url, 'GET', `/tasks/${items[0]!.task_id}`)).body, { task: { task_data: { n: 0 }, state: 'queued' } })
  t.same(await sizes(), { urgent: 0, critical: 0, high: 1, normal: 1, low: 0 })
  t.match((await api(d.url, 'GET', '/tasks/status')).body.stats, { tasks_submitted: 2 }, 'the duplicate is not counted')

  await registerAgent(d.url, 'drain')
  const agent = startPullAgent(d.url, 'drain')
  await waitFor('both ran', () => agent.received.length === 2)
  await agent.stop()
  t.same(agent.received.map((r) => r.task_id), [items[1]!.task_id, items[0]!.task_id], 'high before normal')
})

t.test('a full queue refuses the rest with 429 QUEUE_FULL and says which went in', async (t) => {
  const res = await batch({ tasks: Array.from({ length: 7 }, (_, i) => ({ task_data: { i }, priority: 'low' })) })
  t.equal(res.status, 429)
  t.match(res.body, { status: 'error', code: 'QUEUE_FULL', submitted: 5, duplicates: 0, refused: 2, message: /^2 of 7 tasks refused: the low queue holds 5 tasks/ })
  const items = res.body.tasks as Item[]
  t.ok(items.slice(0, 5).every((x) => typeof x.task_id === 'string'), 'the first five were stored')
  t.match(items.slice(5), [{ error: { code: 'QUEUE_FULL' } }, { error: { code: 'QUEUE_FULL' } }], 'the last two were refused')
  t.equal((await sizes()).low, 5, 'and the queue holds exactly the stored ones')
  await api(d.url, 'POST', '/tasks/queues/low/clear')
})

t.test('bad batches get a 4xx naming the field, and nothing of them is stored', async (t) => {
  const before = await sizes()
  const cases: [unknown, number, RegExp][] = [
    [undefined, 422, /body/],
    [{}, 422, /tasks/],
    [{ tasks: [] }, 422, /tasks: expected at least one task/],
    [{ tasks: { task_data: {} } }, 422, /tasks/],
    [{ tasks: Array.from({ length: 1001 }, () => ({ task_data: {} })) }, 422, /tasks: expected at most 1000 tasks/],
    [{ tasks: [{ task_data: {} }, { task_data: {}, priority: 'soon' }] }, 422, /tasks\.1\.priority: expected one of urgent/],
    [{ tasks: [{ task_data: [] }] }, 422, /tasks\.0\.task_data/],
    [{ tasks: [{ task_data: {} }], extra: 1 }, 422, /extra/],
    [{ tasks: [{ task_data: {} }, { task_data: {}, timeout_ms: 1e12 }] }, 422, /tasks\.1\.timeout_ms/],
    [{ tasks: [{ task_data: {} }, { task_data: { big: 'x'.repeat(2000) } }] }, 413, /tasks\.1\.task_data: larger than 1000 bytes/],
  ]
  for (const [body, status, message] of cases) {
    const res = await batch(body)
    t.equal(res.status, status, `${JSON.stringify(body)?.slice(0, 60)}: ${status}`)
    t.match(res.body.message, message)
  }
  t.same(await sizes(), before, 'no queue moved')
})

t.test('the outsider: no token, a wrong token and a read token are refused before anything is stored', async (t) => {
  const tokens = [
    { name: 'viewer', token: 'read-token-0123456789abcdef', scopes: ['read'] as const },
    { name: 'producer', token: 'operate-token-0123456789abcd', scopes: ['operate'] as const },
  ]
  const guarded = await startCoordinator({ ...opts, auth: { tokens, anonymous: false } })
  t.teardown(() => guarded.close())
  const post = (body: unknown, headers: Record<string, string>) => api(guarded.url, 'POST', '/tasks/submit-batch', body, headers)
  const before = await sizes()
  const one = { tasks: [{ task_data: { x: 1 } }] }
  t.equal((await post(one, {})).status, 401)
  t.equal((await post(one, { authorization: 'Bearer not-a-token-0123456789ab' })).status, 401)
  const read = await post(one, { authorization: `Bearer ${tokens[0]!.token}` })
  t.equal(read.status, 403)
  t.match(read.body, { code: 'FORBIDDEN', detail: /agent, operate/ })
  const deep = `{"tasks":[{"task_data":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}]}`
  const res = await fetch(`${guarded.url}/tasks/submit-batch`, {
    method: 'POST', headers: { 'authorization': `Bearer ${tokens[1]!.token}`, 'content-type': 'application/json' }, body: deep,
  })
  t.equal(res.status, 400, 'input nested 100 deep is refused before parsing')
  t.same(await sizes(), before)
  t.equal((await post(one, { authorization: `Bearer ${tokens[1]!.token}` })).status, 201, 'the operate token may submit')
})
