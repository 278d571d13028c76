import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { registerAgent, startPullAgent } from '../fixtures/agents.js'
import { api } from '../fixtures/api.js'
import { startCoordinator } from '../fixtures/coordinator.js'
import { BIN } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const run = promisify(execFile)
const redis = await startRedis()
t.teardown(() => redis.stop())

t.test('a full queue answers 429 QUEUE_FULL and keeps what it has', async (t) => {
  const d = await startCoordinator({ redisUrl: redis.url, prefix: 'full:', engine: { tasks: { maxQueueSize: 3 } } })
  t.teardown(() => d.close())
  for (let i = 0; i < 3; i++) t.equal((await api(d.url, 'POST', '/tasks/submit', { task_data: { i }, priority: 'low' })).status, 201)
  const full = await api(d.url, 'POST', '/tasks/submit', { task_data: { i: 3 }, priority: 'low' })
  t.equal(full.status, 429)
  t.match(full.body, { code: 'QUEUE_FULL', message: /low queue holds 3 tasks/ })
  t.equal((await api(d.url, 'POST', '/tasks/submit', { task_data: { i: 4 }, priority: 'high' })).status, 201, 'other priorities have their own bound')
  t.match((await api(d.url, 'GET', '/tasks/queues')).body.queue_sizes, { low: 3, high: 1 })
})

t.test('with aging, a low task that waited too long is served before newer higher ones', async (t) => {
  const d = await startCoordinator({ redisUrl: redis.url, prefix: 'aging:', engine: { tasks: { agingMs: 300 } } })
  t.teardown(() => d.close())
  const old = String((await api(d.url, 'POST', '/tasks/submit', { task_data: { old: true }, priority: 'low' })).body.task_id)
  const since = Date.now()
  await waitFor('the low task to age', () => Date.now() - since > 400)
  for (let i = 0; i < 5; i++) await api(d.url, 'POST', '/tasks/submit', { task_data: { i }, priority: 'urgent' })
  await registerAgent(d.url, 'solo', { metadata: { capacity: 1 } })
  const agent = startPullAgent(d.url, 'solo')
  await waitFor('all six done', () => agent.received.length === 6, { timeoutMs: 10_000 })
  await agent.stop()
  t.equal(agent.received[0]?.task_id, old, 'the aged low task went first')
})

t.test('the CLI submits, shows and counts tasks', async (t) => {
  // The CLI is the process under test; the API it calls runs in-process.
  const d = await startCoordinator({ redisUrl: redis.url, prefix: 'cli:', engine: {} })
  t.teardown(() => d.close())
  const cli = (...args: string[]) => run(process.execPath, [BIN, '--url', d.url, ...args])
  const sub = await cli('tasks', 'submit', '--data', '{"model":"llama2"}', '--priority', 'URGENT')
  const id = /Task (\S+) submitted \(priority urgent\)/.exec(sub.stdout)?.[1]
  t.ok(id, sub.stdout)
  t.match((await cli('tasks', 'get', id!)).stdout, new RegExp(`${id}\\s+queued\\s+urgent`))
  t.match((await cli('tasks', 'queues')).stdout, /urgent\s+1/)
  t.match((await cli('ai', 'distribution-stats')).stdout, /submitted 1 .*\n.*\nstrategy least_connections/)
  t.match((await cli('strategy', 'set', 'random')).stdout, /now uses random/)
  t.match((await cli('strategy', 'get')).stdout, /^random/)
  const bad = await cli('tasks', 'submit', '--data', '[1]').catch((e: { code: number, stderr: string }) => e)
  t.match(bad, { code: 2, stderr: /--data expects a JSON object/ })
})

t.test('a pull agent can complete a task and get its next one in the same answer (?next=1, waiting with wait_ms)', async (t) => {
  const d = await startCoordinator({ redisUrl: redis.url, prefix: 'next:', engine: {} })
  t.teardown(() => d.close())
  await registerAgent(d.url, 'fast', { metadata: { capacity: 2 } })
  const ids = [0, 1].map(async (i) => String((await api(d.url, 'POST', '/tasks/submit', { task_data: { i } })).body.task_id))
  const submitted = await Promise.all(ids)
  const first = await waitFor('first task', async () => {
    const res = await fetch(`${d.url}/agents/fast/tasks/next?wait_ms=500`)
    return res.status === 200 ? (await res.json() as { task: { task_id: string } }).task : undefined
  })
  // A pull agent takes work in the call that asks for it: the other task waits queued until then.
  t.match((await api(d.url, 'GET', '/tasks/status')).body.stats, { tasks_in_flight: 1, queue_sizes: { normal: 1 } }, 'only the polled task is taken')
  const done = await api(d.url, 'POST', `/tasks/${first.task_id}/complete?next=1`, { agent_id: 'fast', result: 1 })
  t.equal(done.status, 200)
  const next = done.body.next_task as { task_id: string, state: string }
  t.same([first.task_id, next.task_id].sort(), [...submitted].sort(), 'the other task came with the answer')
  t.equal(next.state, 'running')
  const last = await api(d.url, 'POST', `/tasks/${next.task_id}/complete?next=1`, { agent_id: 'fast', result: 2 })
  t.equal(last.body.next_task, null, 'nothing more assigned')
  t.match((await api(d.url, 'GET', '/tasks/status')).body.stats, { tasks_completed: 2, tasks_in_flight: 0 })

  // With wait_ms the completion is also a long poll: it answers with a task submitted while it waits.
  const third = String((await api(d.url, 'POST', '/tasks/submit', { task_data: { i: 3 } })).body.task_id)
  const got = await waitFor('the third task', async () => {
    const res = await fetch(`${d.url}/agents/fast/tasks/next?wait_ms=500`)
    return res.status === 200 ? (await res.json() as { task: { task_id: string } }).task : undefined
  })
  t.equal(got.task_id, third)
  const waiting = api(d.url, 'POST', `/tasks/${third}/complete?next=1&wait_ms=10000`, { agent_id: 'fast', result: 3 })
  await waitFor('the agent to wait', async () => ((await api(d.url, 'GET', '/tasks/status')).body.stats as Record<string, number>).tasks_completed === 3)
  const fourth = String((await api(d.url, 'POST', '/tasks/submit', { task_data: { i: 4 } })).body.task_id)
  const answer = await waiting
  t.equal(answer.status, 200)
  t.match(answer.body, { task_id: third, task_state: 'completed', next_task: { task_id: fourth, state: 'running', agent_id: 'fast' } })
  const started = Date.now()
  const empty = await api(d.url, 'POST', `/tasks/${fourth}/complete?next=1&wait_ms=300`, { agent_id: 'fast', result: 4 })
  t.match(empty.body, { task_state: 'completed', next_task: null })
  t.ok(Date.now() - started >= 250, 'waited for a task before answering none')
  const bad = await api(d.url, 'POST', `/tasks/${fourth}/complete?next=1&wait_ms=61000`, { agent_id: 'fast', result: 4 })
  t.match(bad, { status: 422, body: { code: 'VALIDATION_FAILED', message: /wait_ms/ } })
})
