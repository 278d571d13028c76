import { pino } from 'pino'
import t from 'tap'
import { type ReceivedTask, registerAgent, startPullAgent, startPushAgent } from '../fixtures/agents.js'
import { api } from '../fixtures/api.js'
import { type ConfigInput, startCoordinator, type TestCoordinator } from '../fixtures/coordinator.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// Task queues end to end through two coordinator APIs with their task engines in-process, sharing one
// real Redis as two daemons do (tasks.test.ts keeps the daemon that is SIGKILLed with tasks assigned).
const redis = await startRedis()
t.teardown(() => redis.stop())

const PRIORITIES = ['urgent', 'critical', 'high', 'normal', 'low']

type LogLine = Record<string, unknown> & { msg?: string }
type Node = TestCoordinator & { logs: LogLine[] }

/** genesis and follower: two engines on one prefix, each with its own log. */
async function pair(prefix: string, engine: ConfigInput = {}): Promise<[Node, Node]> {
  const start = async (name: string): Promise<Node> => {
    const logs: LogLine[] = []
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) })
    const c = await startCoordinator({
      redisUrl: redis.url, prefix, log,
      engine: { ...engine, node: { name }, tasks: { retryBackoffMs: 50, ...engine.tasks } },
    })
    t.teardown(() => c.close())
    return Object.assign(c, { logs })
  }
  return [await start('genesis'), await start('follower')]
}

async function submit(d: Node, body: Record<string, unknown>): Promise<string> {
  const res = await api(d.url, 'POST', '/tasks/submit', { task_data: { n: 1 }, ...body })
  if (res.status !== 201 && res.status !== 200) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`)
  return String(res.body.task_id)
}

type Stats = Record<string, number> & { load_balancer_stats: Record<string, unknown>, queue_sizes: Record<string, number> }
const stats = async (d: Node) => (await api(d.url, 'GET', '/tasks/status')).body.stats as Stats
const task = async (d: Node, id: string) => (await api(d.url, 'GET', `/tasks/${id}`)).body.task as Record<string, unknown>

t.test('1000 tasks over all priorities through two daemons and three agents: each completed exactly once, higher priorities first', async (t) => {
  const [a, b] = await pair('t1000:')
  const ids: string[] = []
  for (let i = 0; i < 1000; i++) ids.push(await submit(i % 2 === 0 ? a : b, { priority: PRIORITIES[i % 5]!.toUpperCase() }))
  t.equal(new Set(ids).size, 1000)
  t.same((await stats(a)).queue_sizes, { urgent: 200, critical: 200, high: 200, normal: 200, low: 200 })

  await registerAgent(a.url, 'w1')
  await registerAgent(a.url, 'w2')
  await registerAgent(b.url, 'w3')
  const agents = [startPullAgent(a.url, 'w1'), startPullAgent(a.url, 'w2'), startPullAgent(b.url, 'w3')]
  await waitFor('all completed', async () => (await stats(b)).tasks_completed === 1000, { timeoutMs: 60_000, intervalMs: 200 })
  await Promise.all(agents.map((x) => x.stop()))

  const got = agents.flatMap((x) => x.received)
  t.equal(got.length, 1000, 'every task handed out once')
  t.equal(new Set(got.map((g) => g.task_id)).size, 1000, 'no task handed out twice')
  t.ok(agents.every((x) => x.received.length > 0), 'all three agents worked')
  const s = await stats(a)
  t.match(s, { tasks_submitted: 1000, tasks_distributed: 1000, tasks_completed: 1000, tasks_failed: 0, tasks_in_flight: 0 })
  t.same(s.queue_sizes, { urgent: 0, critical: 0, high: 0, normal: 0, low: 0 })
  t.match(s.load_balancer_stats, { strategy: 'least_connections', active_agents: 3, total_assignments: 1000, avg_agent_load: 0 })
  const metrics = await (await fetch(`${b.url}/metrics`)).text()
  t.match(metrics, /aitbc_tasks\{outcome="completed"\} 1000/)
  t.match(metrics, /aitbc_task_queue_depth\{priority="urgent"\} 0/)
  t.match(metrics, /aitbc_task_assignment_seconds_count\{priority="low"\} \d+/)
  // Cluster-wide gauges are the same on both daemons; the counters count what each took, so they add up once.
  const counted = async (d: Node, outcome: string) =>
    Number(new RegExp(`^aitbc_tasks_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(await (await fetch(`${d.url}/metrics`)).text())?.[1])
  t.equal(await counted(a, 'completed') + await counted(b, 'completed'), 1000, 'completions summed over the daemons: 1000, not 2000')
  t.equal(await counted(a, 'submitted') + await counted(b, 'submitted'), 1000, 'submissions summed over the daemons: 1000')

  // Order of hand-out: the mean position of each priority rises from urgent to low.
  const tasks = await Promise.all(ids.map((id) => task(a, id)))
  const order = tasks.map((x) => ({ p: String(x.priority), at: Date.parse(String(x.assigned_at)) }))
    .sort((x, y) => x.at - y.at)
  const meanRank = PRIORITIES.map((p) => {
    const ranks = order.flatMap((o, i) => (o.p === p ? [i] : []))
    return ranks.reduce((s2, r) => s2 + r, 0) / ranks.length
  })
  t.ok(meanRank.every((r, i) => i === 0 || r > meanRank[i - 1]!), `mean hand-out position by priority rises: ${meanRank.map((r) => r.toFixed(0)).join(' < ')}`)
  t.ok(tasks.every((x) => x.state === 'completed' && x.attempts === 1), 'each completed at the first attempt')
})

t.test('a task with no eligible agent waits, then runs when a matching agent registers', async (t) => {
  const [a, b] = await pair('wait:')
  await registerAgent(a.url, 'cpu-only', { capabilities: ['cpu'] })
  const cpu = startPullAgent(a.url, 'cpu-only')
  const id = await submit(a, { requirements: { capabilities: ['gpu'] } })
  // Three answered long polls (200 ms each) span several distribution rounds (100 ms).
  await waitFor('the cpu agent polled a few times', () => cpu.polls >= 3)
  const waiting = await task(b, id)
  t.equal(waiting.state, 'queued', 'no agent has the gpu capability: the task stays queued, never dropped')
  await registerAgent(b.url, 'gpu-1', { capabilities: ['gpu', 'cpu'] })
  const gpu = startPullAgent(b.url, 'gpu-1')
  await waitFor('completed', async () => (await task(a, id)).state === 'completed', { timeoutMs: 10_000 })
  t.equal((await task(a, id)).agent_id, 'gpu-1')
  t.equal(cpu.received.length, 0)
  await cpu.stop()
  await gpu.stop()
})

t.test('push agents get POST /tasks/execute; a refused push is retried, and an answer with the result completes the task', async (t) => {
  const [a, b] = await pair('push:')
  const agent = await startPushAgent(async (_t, n) => (n === 1
    ? { status: 503, body: { error: 'busy' } }
    : { status: 200, body: { status: 'completed', result: { answer: 42 } } }))
  t.teardown(() => agent.close())
  await registerAgent(a.url, 'pusher', { endpoints: { http: agent.url } })
  const id = await submit(a, { task_data: { model: 'llama2', prompt: 'test prompt' }, priority: 'normal' })
  await waitFor('completed', async () => (await task(a, id)).state === 'completed', { timeoutMs: 10_000 })
  const done = await task(a, id)
  t.match(done, { state: 'completed', attempts: 2, agent_id: 'pusher', result: { answer: 42 } })
  t.match(agent.received[0], { task_id: id, priority: 'normal', task_data: { model: 'llama2', prompt: 'test prompt' } })
  // Whichever daemon pushed, the callbacks point at its own API.
  const urls = new RegExp(`^(${a.url}|${b.url})/tasks/${id}/`)
  t.match(agent.received[1], { complete_url: urls, fail_url: urls })
  t.ok([...a.logs, ...b.logs].some((l) => /^push of task \S+ to agent \S+ failed/.test(String(l.msg))))
})

t.test('an agent that stops heartbeating mid-task: its task goes to another agent; retries spent -> dead letter, then requeue', async (t) => {
  const [a] = await pair('stale:', { agents: { staleAfterMs: 800, sweepIntervalMs: 100 } })
  await registerAgent(a.url, 'flaky')
  const flaky = startPullAgent(a.url, 'flaky', async () => 'ignore')
  const id = await submit(a, { timeout_ms: 60_000, max_retries: 1 })
  await waitFor('flaky took it', () => flaky.received.length === 1)
  await flaky.stop()
  await waitFor('back in the queue (agent stale)', async () => (await task(a, id)).state === 'queued', { timeoutMs: 10_000 })
  t.match((await task(a, id)).error, /agent flaky is stale/)

  await registerAgent(a.url, 'failer')
  const failer = startPullAgent(a.url, 'failer', async () => ({ fail: 'out of memory', retryable: true }))
  await waitFor('dead-lettered', async () => (await task(a, id)).state === 'dead', { timeoutMs: 10_000 })
  await failer.stop()
  t.match(await task(a, id), { state: 'dead', attempts: 2, error: 'out of memory' })
  const dead = await api(a.url, 'GET', '/tasks/dead')
  t.match(dead.body, { count: 1, total: 1, tasks: [{ task_id: id, state: 'dead' }] })
  // The dashboard's one read: the counters and the dead letters waiting, counted and listed together.
  const view = async () => (await api(a.url, 'GET', '/tasks/queues/stats?dead=5')).body as { stats: Stats, dead_letters: { count: number, tasks: unknown[] } }
  t.match((await view()).dead_letters, { count: 1, tasks: [{ task_id: id, state: 'dead' }] })
  t.match((await api(a.url, 'GET', '/tasks/queues/stats?dead=x')).body, { code: 'VALIDATION_FAILED', message: /dead/ }, 'a bad dead= names the field')

  const requeued = await api(a.url, 'POST', `/tasks/${id}/requeue`)
  t.equal(requeued.status, 200)
  const after = await view()
  t.match(after.dead_letters, { count: 0, tasks: [] }, 'requeued: no dead letter waits, none listed')
  t.equal(after.stats.tasks_dead, 1, 'while tasks_dead still counts every letter ever dead-lettered')
  const worker = startPullAgent(a.url, 'failer')
  await waitFor('completed after requeue', async () => (await task(a, id)).state === 'completed', { timeoutMs: 10_000 })
  await worker.stop()
  t.equal((await api(a.url, 'GET', '/tasks/dead')).body.count, 0)
  const again = await api(a.url, 'POST', `/tasks/${id}/requeue`)
  t.equal(again.status, 409)
  t.match(again.body, { code: 'TASK_NOT_DEAD' })
})

t.test('duplicate and late reports are answered clearly and counted once; idempotency keys return the first task', async (t) => {
  const [a] = await pair('dup:')
  const first = await api(a.url, 'POST', '/tasks/submit', { task_data: { x: 1 }, idempotency_key: 'order-17' })
  const second = await api(a.url, 'POST', '/tasks/submit', { task_data: { x: 1 }, idempotency_key: 'order-17' })
  t.equal(first.status, 201)
  t.equal(second.status, 200)
  t.equal(second.body.task_id, first.body.task_id)
  t.equal(second.body.duplicate, true)
  await registerAgent(a.url, 'w')
  let got: ReceivedTask | undefined
  const w = startPullAgent(a.url, 'w', async (x) => {
    got = x
    return 'ignore'
  })
  await waitFor('assigned', () => got)
  await w.stop()
  await registerAgent(a.url, 'other')
  const id = got!.task_id
  const wrong = await api(a.url, 'POST', `/tasks/${id}/complete`, { agent_id: 'other', result: 1 })
  t.equal(wrong.status, 409)
  t.match(wrong.body, { code: 'TASK_WRONG_AGENT' })
  t.equal((await api(a.url, 'POST', `/tasks/${id}/complete`, { agent_id: 'w', result: 1 })).status, 200)
  const late = await api(a.url, 'POST', `/tasks/${id}/complete`, { agent_id: 'w', result: 2 })
  t.equal(late.status, 409)
  t.match(late.body, { code: 'TASK_ALREADY_FINISHED' })
  t.equal((await stats(a)).tasks_completed, 1)
})

t.test('bad task input gets a 4xx naming the field', async (t) => {
  const [a] = await pair('bad:')
  const cases: [unknown, number, RegExp][] = [
    [{ task_data: { x: 1 }, priority: 'asap' }, 422, /priority: expected one of urgent, critical, high, normal, low/],
    [{ task_data: 'text' }, 422, /task_data: expected an object/],
    [{ task_data: { x: 1 }, timeout_ms: '5' }, 422, /timeout_ms/],
    [{ task_data: { x: 1 }, requirements: { capabilities: 5 } }, 422, /requirements\.capabilities/],
    [{ task_data: { x: 1 }, surprise: true }, 422, /surprise/],
    [{ task_data: { blob: 'x'.repeat(300_000) } }, 413, /task_data: larger than/],
  ]
  for (const [body, status, message] of cases) {
    const res = await api(a.url, 'POST', '/tasks/submit', body)
    t.equal(res.status, status, JSON.stringify(body).slice(0, 60))
    t.match(res.body.message, message)
  }
  t.match((await api(a.url, 'GET', '/tasks/00000000-0000-4000-8000-000000000000')).body, { code: 'TASK_NOT_FOUND' })
  t.equal((await api(a.url, 'GET', '/tasks/nope')).status, 422)
  t.match((await api(a.url, 'POST', '/tasks/queues/asap/clear')).body.message, /priority/)
  t.match((await api(a.url, 'PUT', '/load-balancer/strategy', { strategy: 'fastest' })).body.message, /strategy: expected one of least_connections/)
  t.equal((await api(a.url, 'GET', '/agents/w/tasks/next?wait_ms=999999')).status, 422)
})

t.test('the strategy is shared by all daemons; clearing a queue ends its tasks as failed, not vanished', async (t) => {
  const [a, b] = await pair('strat:')
  t.equal((await api(a.url, 'PUT', '/load-balancer/strategy', { strategy: 'round_robin' })).status, 200)
  t.equal((await api(b.url, 'GET', '/load-balancer/strategy')).body.strategy, 'round_robin')
  const ids = await Promise.all([1, 2, 3].map(() => submit(a, { priority: 'low' })))
  const cleared = await api(b.url, 'POST', '/tasks/queues/low/clear')
  t.match(cleared.body, { cleared: 3 })
  for (const id of ids) t.match(await task(a, id), { state: 'failed', error: /cancelled: low queue cleared by anonymous/ })
  t.equal((await stats(a)).tasks_failed, 3)
})
