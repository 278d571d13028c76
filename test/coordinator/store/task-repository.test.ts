import { Redis } from 'ioredis'
import t from 'tap'
import { type Keep, type NextResult, redisKeys, type Task, TaskError, TaskRepository } from '../../../src/coordinator/index.js'
import { waitFor } from '../../fixtures/poll.js'
import { startRedis } from '../../fixtures/redis-server.js'

// The task scripts against a real redis-server, in this process: claims by class and
// priority, capacity, strategy, retention, dead letters, reclaim.
const redis = await startRedis()
const client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
t.teardown(async () => {
  client.disconnect()
  await redis.stop()
})

const day: Keep = { ageMs: 86_400_000, count: 10_000 }
let n = 0
function repo(opts: { completed?: Keep, failed?: Keep, dead?: Keep, agingMs?: number, backoff?: number, strategy?: 'least_connections' | 'round_robin' } = {}) {
  const keys = redisKeys(`repo${n++}:`)
  const r = new TaskRepository(client, keys, {
    defaultTimeoutMs: 60_000, defaultMaxRetries: 1, maxQueueSize: 1000, retryBackoffMs: opts.backoff ?? 0, agentCapacity: 2,
    defaultStrategy: opts.strategy ?? 'least_connections', agingMs: opts.agingMs ?? null,
    retention: { completed: opts.completed ?? day, failed: opts.failed ?? day, dead: opts.dead ?? day },
  })
  return { r, keys }
}

async function agent(keys: ReturnType<typeof redisKeys>, id: string, fields: Record<string, string> = {}) {
  await client.hset(keys.agent(id), {
    agent_id: id, agent_type: 'worker', status: 'active', capabilities: '[]', services: '[]', metadata: '{}',
    endpoints: '{}', health_score: '1', load: '0', ...fields,
  })
  await client.sadd(keys.activeAgents, id)
}

const submit = (r: TaskRepository, extra: Partial<Parameters<TaskRepository['submit']>[0]> = {}) =>
  r.submit({ task_data: { x: 1 }, priority: 'normal', requirements: {}, ...extra }, 'test')

function taken(res: NextResult): Task {
  if (res.task === null) throw new Error(`no task: ${res.why}`)
  return res.task
}

t.test('a claim takes the highest priority first, oldest first within it, and marks it running', async (t) => {
  const { r, keys } = repo()
  await agent(keys, 'a', { capacity: '10' })
  const low = await submit(r, { priority: 'low' })
  const n1 = await submit(r)
  const n2 = await submit(r)
  const urgent = await submit(r, { priority: 'urgent' })
  const order = []
  for (let i = 0; i < 4; i++) order.push(taken(await r.next('a')).task_id)
  t.same(order, [urgent.task_id, n1.task_id, n2.task_id, low.task_id])
  const task = await r.get(urgent.task_id)
  t.match(task, { state: 'running', agent_id: 'a', attempts: 1 })
  t.equal(Number(await client.hget(keys.agent('a'), 'in_flight')), 4)
  t.match(await r.next('a'), { task: null, why: 'empty' })
})

t.test('requirement classes: an agent takes only what it can, and never sees the others\' queue', async (t) => {
  const { r, keys } = repo()
  await agent(keys, 'cpu', { capabilities: '["cpu"]' })
  await agent(keys, 'gpu', { capabilities: '["gpu","cpu"]', agent_type: 'trainer' })
  const gpuTask = await submit(r, { requirements: { capabilities: ['gpu'] } })
  const trainerTask = await submit(r, { requirements: { agent_type: 'trainer', capabilities: ['cpu'] } })
  const none = await r.next('cpu')
  t.match(none, { task: null, why: 'empty' })
  if (none.task === null) {
    t.same(none.can, [''], 'cpu can take only the class without requirements')
    t.equal(none.cannot.length, 2, 'and is told which classes it cannot take')
  }
  t.same(Object.keys(await client.hgetall(keys.requirementClasses)).length, 2)
  const got = [taken(await r.next('gpu')).task_id, taken(await r.next('gpu')).task_id].sort()
  t.same(got, [gpuTask.task_id, trainerTask.task_id].sort())
  t.same(await client.hgetall(keys.requirementClasses), {}, 'a class with nothing queued leaves the index')
  // The same requirements in another order are the same class.
  await submit(r, { requirements: { capabilities: ['b', 'a'] } })
  await submit(r, { requirements: { capabilities: ['a', 'b'], region: 'eu-west-1' } })
  t.equal(Object.keys(await client.hgetall(keys.requirementClasses)).length, 1)
  t.same(await r.queueSizes(), { urgent: 0, critical: 0, high: 0, normal: 2, low: 0 }, 'sizes count every class')
})

t.test('min_health_score and services are matched in the claim', async (t) => {
  const { r, keys } = repo()
  await agent(keys, 'sick', { health_score: '0.3', services: '["db"]' })
  await submit(r, { requirements: { min_health_score: 0.5 } })
  await submit(r, { requirements: { services: ['db'] } })
  const first = taken(await r.next('sick'))
  t.same(first.requirements, { services: ['db'] })
  t.match(await r.next('sick'), { task: null, why: 'empty' })
})

t.test('capacity, status and strategy say why there is nothing', async (t) => {
  const { r, keys } = repo()
  await agent(keys, 'one', { capacity: '1' })
  await submit(r)
  await submit(r)
  taken(await r.next('one'))
  t.match(await r.next('one'), { task: null, why: 'full', inFlight: 1 })
  await client.hset(keys.agent('one'), 'status', 'busy')
  t.match(await r.next('one'), { task: null, why: 'inactive' })
  await client.hset(keys.agent('one'), 'status', 'active', 'in_flight', '0')
  await client.set(keys.strategy, 'round_robin')
  t.match(await r.next('one'), { task: null, why: 'strategy' }, 'other strategies leave the choice to a distributor')
  await client.del(keys.strategy)
  t.ok((await r.next('one')).task, 'least_connections again: it takes')
})

t.test('aging serves a queue whose oldest task waited too long first', async (t) => {
  const { r, keys } = repo({ agingMs: 100 })
  await agent(keys, 'a', { capacity: '10' })
  const old = await submit(r, { priority: 'low' })
  await new Promise((res) => setTimeout(res, 150))
  await submit(r, { priority: 'urgent' })
  t.equal(taken(await r.next('a')).task_id, old.task_id)
})

t.test('complete and next in one script; reports that change nothing carry codes', async (t) => {
  const { r, keys } = repo()
  await agent(keys, 'a')
  await agent(keys, 'b')
  const one = await submit(r)
  const two = await submit(r)
  const first = taken(await r.next('a'))
  t.equal(first.task_id, one.task_id)
  await t.rejects(r.report(first.task_id, 'b', 'completed', '1'), { code: 'TASK_WRONG_AGENT' })
  const next = await r.completeAndNext(first.task_id, 'a', '"r"')
  t.equal(taken(next).task_id, two.task_id)
  await t.rejects(r.report(first.task_id, 'a', 'completed', '1'), { code: 'TASK_ALREADY_FINISHED' })
  await t.rejects(r.get('8d1f0d4e-3b0a-4a5f-9e0c-6f1e2d3c4b5a'), { code: 'TASK_NOT_FOUND' })
  t.match(await r.counters(), { submitted: 2, completed: 1, distributed: 2 })
})

t.test('complete and next with a wait: an agent that finds nothing waits in the same script, and the next submit is handed to it', async (t) => {
  const { r, keys } = repo()
  await agent(keys, 'a')
  const sub = client.duplicate()
  const handed: string[] = []
  sub.on('message', (_c: string, m: string) => handed.push(m))
  await sub.subscribe(keys.handOffs('here'))
  t.teardown(() => sub.disconnect())
  const one = await submit(r)
  const first = taken(await r.next('a'))
  t.equal(first.task_id, one.task_id)
  t.match(await r.completeAndNext(first.task_id, 'a', '"r"', { ms: 5000, instance: 'here' }), { task: null, why: 'empty' })
  t.ok(Number(await client.zscore(keys.waitingAgents, 'a')) > Date.now(), 'entered as waiting')
  const two = await submit(r, { task_data: { n: 2, text: 'q"|\\' } })
  const stored = await r.get(two.task_id)
  t.match(stored, { state: 'running', agent_id: 'a', attempts: 1 }, 'handed over at submission')
  await waitFor('the hand-off', () => handed.length === 1)
  const sent = JSON.parse(handed[0]!.split('|').slice(3).join('|')) as Record<string, string>
  t.same(sent, await client.hgetall(keys.task(two.task_id)), 'the hand-off carries the task as stored')
  t.match(await r.counters(), { submitted: 2, distributed: 2, assignments: 2 })
})

t.test('an agent that takes a task is no longer waiting, whatever entered it (an earlier poll\'s entry not yet swept)', async (t) => {
  const { r, keys } = repo()
  await agent(keys, 'a')
  t.match(await r.next('a', { ms: 5000, instance: 'here' }), { task: null, why: 'empty' })
  t.ok(Number(await client.zscore(keys.waitingAgents, 'a')) > Date.now(), 'entered as waiting')
  // That poll's wait has passed (the reclaim sweeps such entries a second later): no hand-off to it.
  await client.zadd(keys.waitingAgents, Date.now() - 100, 'a')
  const queued = await submit(r)
  t.match(await r.get(queued.task_id), { state: 'queued' }, 'queued, not handed to a wait that has passed')
  t.equal(taken(await r.next('a')).task_id, queued.task_id)
  t.equal(await client.zscore(keys.waitingAgents, 'a'), null, 'the claim took it out of the waiting set')
})

t.test('retention by count: the oldest finished tasks go, the newest stay readable', async (t) => {
  const { r, keys } = repo({ completed: { ageMs: 86_400_000, count: 3 } })
  await agent(keys, 'a', { capacity: '100' })
  const ids: string[] = []
  for (let i = 0; i < 8; i++) ids.push((await submit(r)).task_id)
  for (let i = 0; i < 8; i++) await r.report(taken(await r.next('a')).task_id, 'a', 'completed', String(i))
  t.equal(await client.zcard(keys.completedTasks), 3)
  for (const id of ids.slice(5)) t.match(await r.get(id), { state: 'completed' })
  for (const id of ids.slice(0, 5)) {
    await t.rejects(r.get(id), { code: 'TASK_EXPIRED', message: /is no longer kept/ }, 'an expired id says so')
  }
  t.match(await r.counters(), { expired: 5, completed: 8 })
  const ttl = await client.pttl(keys.task(ids[7]!))
  t.ok(ttl > 0 && ttl <= 86_400_000, `a kept task expires by itself (pttl ${ttl})`)
})

t.test('retention by age, and failed tasks and dead letters are bounded too', async (t) => {
  const { r, keys } = repo({
    completed: { ageMs: 1000, count: 100 }, failed: { ageMs: 86_400_000, count: 1 }, dead: { ageMs: 86_400_000, count: 2 },
  })
  await agent(keys, 'a', { capacity: '100' })
  const early = await submit(r)
  await r.report(taken(await r.next('a')).task_id, 'a', 'completed', '1')
  await waitFor('the first record expired', async () => (await client.exists(keys.task(early.task_id))) === 0, { timeoutMs: 3000 })
  const late = await submit(r)
  await r.report(taken(await r.next('a')).task_id, 'a', 'completed', '2')
  t.same(await client.zrange(keys.completedTasks, 0, -1), [late.task_id], 'the index lost the expired entry with the next completion')

  for (let i = 0; i < 3; i++) {
    await submit(r)
    await r.report(taken(await r.next('a')).task_id, 'a', 'failed', 'no')
  }
  t.equal(await client.zcard(keys.failedTasks), 1)
  const dead: string[] = []
  for (let i = 0; i < 3; i++) {
    const s = await submit(r, { max_retries: 0 })
    dead.push(s.task_id)
    t.equal(await r.report(taken(await r.next('a')).task_id, 'a', 'retry', 'broken'), 'DEAD')
  }
  t.same((await r.dead(10)).map((d) => d.task_id), [dead[2], dead[1]], 'at most keepDead.count dead letters, newest first')
  await r.requeue(dead[2]!)
  t.equal(await client.pttl(keys.task(dead[2]!)), -1, 'a requeued dead letter no longer expires')
  t.match(await r.get(dead[2]!), { state: 'queued', attempts: 0 })
  await t.rejects(r.requeue(dead[2]!), { code: 'TASK_NOT_DEAD' })
})

t.test('a retry waits out its backoff in the queue; reclaim takes back expired leases and tells the next lease end', async (t) => {
  const { r, keys } = repo({ backoff: 300 })
  await agent(keys, 'a', { capacity: '10' })
  const s = await submit(r, { timeout_ms: 200, max_retries: 2 })
  taken(await r.next('a'))
  const before = await r.reclaim('expired')
  t.same(before.taken, [])
  t.ok(before.nextLeaseEnd !== null && before.nextLeaseEnd > Date.now() - 1000, 'the lease end is reported')
  await new Promise((res) => setTimeout(res, 250))
  const after = await r.reclaim('expired')
  t.same(after.taken, [s.task_id])
  t.equal(after.nextLeaseEnd, null)
  t.match(await r.get(s.task_id), { state: 'queued', error: /lease expired on agent a/ })
  t.match(await r.next('a'), { task: null, why: 'empty' }, 'not ready during its backoff')
  const { nextReadyAt } = await r.readyTasks(10)
  t.ok(nextReadyAt !== null, 'the distributor is told when it becomes ready')
  await waitFor('ready after the backoff', async () => (await r.next('a')).task !== null, { timeoutMs: 2000 })
})

t.test('reclaim all takes back the tasks of a stale or removed agent at once', async (t) => {
  const { r, keys } = repo()
  await agent(keys, 'a')
  await agent(keys, 'b')
  const s1 = await submit(r)
  const s2 = await submit(r)
  taken(await r.next('a'))
  taken(await r.next('b'))
  await client.hset(keys.agent('a'), 'status', 'stale')
  await client.del(keys.agent('b'))
  t.same((await r.reclaim('expired')).taken, [], 'leases still running')
  t.same((await r.reclaim('all')).taken.sort(), [s1.task_id, s2.task_id].sort())
  t.equal(await client.exists(keys.agent('b')), 0, 'a removed agent\'s hash is not brought back by the released slot')
})

t.test('the queue bound, and an idempotency key whose first task expired', async (t) => {
  const { r, keys } = repo({ completed: { ageMs: 86_400_000, count: 0 } })
  await agent(keys, 'a')
  const first = await submit(r, { idempotency_key: 'k1' })
  await r.report(taken(await r.next('a')).task_id, 'a', 'completed', '1')
  const again = await submit(r, { idempotency_key: 'k1' })
  t.match(again, { task_id: first.task_id, duplicate: true, priority: 'normal' })
  const small = new TaskRepository(client, redisKeys(`repo${n++}:`), {
    defaultTimeoutMs: 1000, defaultMaxRetries: 0, maxQueueSize: 1, retryBackoffMs: 0, agentCapacity: 1,
    defaultStrategy: 'least_connections', agingMs: null, retention: { completed: day, failed: day, dead: day },
  })
  await submit(small)
  await t.rejects(submit(small), TaskError)
  await t.rejects(submit(small), { code: 'QUEUE_FULL' })
})

t.test('hand-off: a submit gives the task to a waiting agent at once, sent to the daemon holding its poll', async (t) => {
  const { r, keys } = repo()
  await agent(keys, 'busy', { capacity: '1', in_flight: '1' })
  await agent(keys, 'gpu-less')
  await agent(keys, 'idle')
  const sub = client.duplicate()
  const events: string[] = []
  sub.on('message', (c: string, m: string) => events.push(`${c} ${m}`))
  await sub.subscribe(keys.taskEvents, ...['busy', 'gpu-less', 'idle'].map((a) => keys.handOffs(`daemon-of-${a}`)))
  t.teardown(() => sub.disconnect())
  for (const a of ['busy', 'gpu-less', 'idle']) t.match(await r.next(a, { ms: 5000, instance: `daemon-of-${a}` }), { task: null })
  await client.hset(keys.agent('gpu-less'), 'capabilities', '[]')
  const gpu = await submit(r, { requirements: { capabilities: ['gpu'] } })
  t.match(await r.get(gpu.task_id), { state: 'queued' }, 'no waiting agent can take it: queued')
  const plain = await submit(r)
  const task = await r.get(plain.task_id)
  t.match(task, { state: 'running', attempts: 1 }, 'taken at submission')
  const taker = task.agent_id ?? ''
  t.ok(taker === 'gpu-less' || taker === 'idle', `a waiting agent with room got it (${taker})`)
  t.not(task.agent_id, 'busy', 'not the one at capacity')
  t.same(await r.queueSizes(), { urgent: 0, critical: 0, high: 0, normal: 1, low: 0 }, 'only the gpu task is queued')
  await waitFor('the hand-off, on that daemon\'s channel only', () =>
    events.some((e) => e.startsWith(`${keys.handOffs(`daemon-of-${taker}`)} h|daemon-of-${taker}|${taker}|`)))
  t.notOk(events.some((e) => e.startsWith(`${keys.taskEvents} h|`)), 'not broadcast to every daemon')
  t.equal(await client.zscore(keys.waitingAgents, taker), null, 'the agent no longer waits')

  // Its poll had ended: the task goes back as never taken.
  t.equal(await r.handBack(plain.task_id, taker), 'OK')
  t.match(await r.get(plain.task_id), { state: 'queued', attempts: 0, agent_id: null })
  t.equal(Number(await client.hget(keys.agent(taker), 'in_flight')), 0)
  t.equal(await r.handBack(plain.task_id, taker), 'GONE', 'only once')
  t.match(await r.counters(), { distributed: 0 })
  await r.stopWaiting('idle')
  await r.stopWaiting('gpu-less')
  const again = await submit(r)
  t.match(await r.get(again.task_id), { state: 'queued' }, 'no one waits any more: queued')
})
