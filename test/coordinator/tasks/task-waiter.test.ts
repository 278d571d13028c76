import { EventEmitter } from 'node:events'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import t from 'tap'
import { redisKeys, type Task, TaskRepository, TaskWaiter, TaskWakeups } from '../../../src/coordinator/index.js'
import { waitFor } from '../../fixtures/poll.js'
import { startRedis } from '../../fixtures/redis-server.js'

// The long poll as the task domain runs it, in this process on a real redis-server:
// a claim at once, a hand-off while waiting, the deadline, the client going away.
const redis = await startRedis({ appendonly: false })
const client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
const stops: (() => Promise<void>)[] = []
t.teardown(async () => {
  for (const stop of stops) await stop()
  client.disconnect()
  await redis.stop()
})

let n = 0
const day = { ageMs: 86_400_000, count: 1000 }
async function setup() {
  const keys = redisKeys(`waiter${n++}:`)
  const tasks = new TaskRepository(client, keys, {
    defaultTimeoutMs: 60_000, defaultMaxRetries: 1, maxQueueSize: 1000, retryBackoffMs: 0, agentCapacity: 2,
    defaultStrategy: 'least_connections', agingMs: null,
    retention: { completed: day, failed: day, dead: day },
  })
  const unclaimed: { agent: string, task: Task }[] = []
  const onUnclaimed = (agent: string, task: Task): void => {
    unclaimed.push({ agent, task })
    void tasks.handBack(task.task_id, agent)
  }
  const wakeups = new TaskWakeups({
    subscriber: new Redis(redis.url), channel: keys.taskEvents, handOffChannel: keys.handOffs('w1'), instance: 'w1',
    log: pino({ level: 'silent' }), onUnclaimed,
  })
  await wakeups.start()
  stops.push(() => wakeups.stop())
  const waiter = new TaskWaiter({ tasks, wakeups, onUnclaimed })
  const agent = async (id: string): Promise<void> => {
    await client.hset(keys.agent(id), {
      agent_id: id, agent_type: 'worker', status: 'active', capabilities: '[]', services: '[]', metadata: '{}',
      endpoints: '{}', health_score: '1', load: '0', capacity: '5',
    })
    await client.sadd(keys.activeAgents, id)
  }
  const submit = () => tasks.submit({ task_data: { x: 1 }, priority: 'normal', requirements: {} }, 'test')
  /** Until the agent's poll waits in Redis (its claim found nothing): a submission is handed to it from then. */
  const waiting = (id: string) => waitFor(`${id} waits`, async () => await client.zscore(keys.waitingAgents, id) !== null)
  return { keys, tasks, waiter, agent, submit, waiting, unclaimed }
}

t.test('a queued task is claimed at once; with nothing queued and no wait, null at once', async (t) => {
  const { waiter, agent, submit } = await setup()
  await agent('a')
  const started = Date.now()
  t.equal(await waiter.next('a', { waitMs: 0, client: new EventEmitter() }), null, 'nothing queued, no wait')
  const queued = await submit()
  const task = await waiter.next('a', { waitMs: 5000, client: new EventEmitter() })
  t.equal(task?.task_id, queued.task_id, 'the queued task')
  t.equal(task?.agent_id, 'a', 'claimed for the agent')
  t.ok(Date.now() - started < 2000, 'no wait when there is a task')
})

t.test('a task submitted during the wait is handed to the waiting agent before its deadline', async (t) => {
  const { waiter, agent, submit, waiting } = await setup()
  await agent('a')
  const started = Date.now()
  const polling = waiter.next('a', { waitMs: 10_000, client: new EventEmitter() })
  await waiting('a')
  const sent = await submit()
  const task = await polling
  t.equal(task?.task_id, sent.task_id, 'the new task')
  t.match(task, { state: 'running', agent_id: 'a' })
  t.ok(Date.now() - started < 5000, `woken, not timed out (${Date.now() - started} ms)`)
})

t.test('with nothing to take the poll ends at its deadline and stops waiting', async (t) => {
  const { waiter, agent, keys } = await setup()
  await agent('a')
  const started = Date.now()
  t.equal(await waiter.next('a', { waitMs: 400, client: new EventEmitter() }), null)
  const took = Date.now() - started
  t.ok(took >= 350 && took < 4000, `waited its time (${took} ms)`)
  // stopWaiting is not awaited by the poll: wait until the set is empty, with a deadline.
  await waitFor('the poll left the waiting set', async () => await client.zscore(keys.waitingAgents, 'a') === null)
  t.pass('a later submission is not handed to it')
})

t.test('a client that goes ends its poll at once; a task sent afterwards stays queued for the next claim', async (t) => {
  const { waiter, agent, submit, tasks, waiting } = await setup()
  await agent('a')
  const conn = new EventEmitter()
  const started = Date.now()
  const polling = waiter.next('a', { waitMs: 10_000, client: conn })
  await waiting('a')
  conn.emit('close')
  t.equal(await polling, null, 'no task for a client that left')
  t.ok(Date.now() - started < 5000, 'ended at once')
  const sent = await submit()
  const claimed = await waitFor('the task is claimable', async () => (await tasks.next('a')).task)
  t.equal(claimed.task_id, sent.task_id, 'the task was not lost to the gone poll')
})

t.test('completeAndNext completes, says so before waiting, and hands over the next task', async (t) => {
  const { waiter, agent, submit, tasks, waiting } = await setup()
  await agent('a')
  const first = await submit()
  const claimed = await tasks.next('a')
  t.equal(claimed.task?.task_id, first.task_id)
  let completedAt = 0
  const polling = waiter.completeAndNext(first.task_id, 'a', JSON.stringify({ ok: 1 }), {
    waitMs: 10_000, client: new EventEmitter(), completed: () => { completedAt = Date.now() },
  })
  await waiting('a')
  // The script's answer and the test's look at Redis resolve in the same tick: give completed() that tick.
  await waitFor('completed() ran', () => completedAt > 0, { timeoutMs: 10_000 })
  let answered = false
  void polling.then(() => {
    answered = true
  })
  await new Promise((r) => setImmediate(r))
  t.notOk(answered, 'completed() ran before the wait ended: the poll still waits for a task')
  const second = await submit()
  const next = await polling
  t.equal(next?.task_id, second.task_id, 'the next task in the same answer')
  t.match(await tasks.get(first.task_id), { state: 'completed', result: { ok: 1 } })
})
