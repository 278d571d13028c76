import t from 'tap'
import { registerAgent } from '../fixtures/agents.js'
import { api } from '../fixtures/api.js'
import { startCoordinator } from '../fixtures/coordinator.js'
import { waitFor } from '../fixtures/poll.js'
import { monitorRedis, startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
t.teardown(() => redis.stop())

// Timers are made long here, so that only the event can wake what is asserted.
const slow = { reclaimIntervalMs: 60000 }

t.test('a long poll on daemon B wakes at once for a task submitted on daemon A', async (t) => {
  const at = (name: string) => startCoordinator({ redisUrl: redis.url, prefix: 'wake:', engine: { node: { name }, tasks: slow } })
  const a = await at('genesis')
  const b = await at('follower')
  t.teardown(async () => {
    await a.close()
    await b.close()
  })
  await registerAgent(b.url, 'remote')
  const waits: number[] = []
  for (let i = 0; i < 5; i++) {
    const poll = fetch(`${b.url}/agents/remote/tasks/next?wait_ms=20000`)
    // The poll is waiting (its first claim found nothing) before the submit goes out.
    await new Promise((r) => setTimeout(r, 100))
    const t0 = Date.now()
    const sent = await api(a.url, 'POST', '/tasks/submit', { task_data: { i } })
    const res = await poll
    waits.push(Date.now() - t0)
    const body = await res.json() as { task: { task_id: string, state: string } }
    t.equal(body.task.task_id, sent.body.task_id)
    t.equal(body.task.state, 'running')
    await api(b.url, 'POST', `/tasks/${body.task.task_id}/complete`, { agent_id: 'remote', result: i })
  }
  t.ok(Math.max(...waits) < 1000, `every poll answered within a second of the submit (ms: ${waits.join(', ')})`)
})

t.test('a retried task wakes the waiting poll when its backoff ends, not at the poll\'s timeout', async (t) => {
  const d = await startCoordinator({ redisUrl: redis.url, prefix: 'wake2:', engine: { tasks: { retryBackoffMs: 300, ...slow } } })
  t.teardown(() => d.close())
  await registerAgent(d.url, 'w')
  const sent = await api(d.url, 'POST', '/tasks/submit', { task_data: {}, max_retries: 1 })
  const first = await (await fetch(`${d.url}/agents/w/tasks/next?wait_ms=1000`)).json() as { task: { task_id: string } }
  await api(d.url, 'POST', `/tasks/${first.task.task_id}/fail`, { agent_id: 'w', error: 'try again', retryable: true })
  const t0 = Date.now()
  const again = await fetch(`${d.url}/agents/w/tasks/next?wait_ms=20000`)
  const waited = Date.now() - t0
  const body = await again.json() as { task: { task_id: string, attempts: number } }
  t.equal(body.task.task_id, sent.body.task_id)
  t.equal(body.task.attempts, 2)
  t.ok(waited >= 200 && waited < 3000, `answered when the 300 ms backoff ended (${waited} ms)`)
})

t.test('idle: the task machinery issues a few Redis commands a second, not a poll every 100 ms', async (t) => {
  const d = await startCoordinator({ redisUrl: redis.url, prefix: 'idle:', engine: { tasks: { reclaimIntervalMs: 1000 } } })
  t.teardown(() => d.close())
  await registerAgent(d.url, 'sleeper')
  const idlePoll = fetch(`${d.url}/agents/sleeper/tasks/next?wait_ms=3500`)
  const monitor = await monitorRedis(redis.port)
  await new Promise((r) => setTimeout(r, 3000))
  monitor.stop()
  // Commands the daemon sent (not those its scripts ran inside Redis) that touch task keys.
  const seen = monitor.lines.filter((l) => /"idle:(tasks|agents:push|lb:|task:|agent-tasks:)/.test(l)).map((l) => l.slice(0, 160))
  t.equal((await idlePoll).status, 204, 'the waiting long poll answered at its timeout, having found nothing')
  // Per second: the reclaim script, and a look for push agents and the strategy.
  t.ok(seen.length <= 3 * 4, `${seen.length} task commands in 3 s:\n${seen.join('\n')}`)
  t.ok(seen.length >= 2, 'the reclaim tick does run')
})

t.test('retention through the API: an expired task answers 410 TASK_EXPIRED, a never-made one 404', async (t) => {
  const d = await startCoordinator({ redisUrl: redis.url, prefix: 'keep:', engine: { tasks: { keepCompleted: { ageMs: 60000, count: 2 } } } })
  t.teardown(() => d.close())
  await registerAgent(d.url, 'k')
  const ids: string[] = []
  for (let i = 0; i < 4; i++) {
    ids.push(String((await api(d.url, 'POST', '/tasks/submit', { task_data: { i } })).body.task_id))
    const got = await (await fetch(`${d.url}/agents/k/tasks/next?wait_ms=1000`)).json() as { task: { task_id: string } }
    await api(d.url, 'POST', `/tasks/${got.task.task_id}/complete`, { agent_id: 'k', result: i })
  }
  const gone = await api(d.url, 'GET', `/tasks/${ids[0]}`)
  t.equal(gone.status, 410)
  t.match(gone.body, { code: 'TASK_EXPIRED', message: /no longer kept/, detail: /tasks\.keepCompleted/ })
  t.match((await api(d.url, 'GET', `/tasks/${ids[3]}`)).body, { task: { state: 'completed', result: 3 } })
  t.equal((await api(d.url, 'GET', '/tasks/4b3f2a10-9c8d-4e7f-8a6b-5c4d3e2f1a0b')).status, 404)
  await waitFor('expired counted', async () => {
    const m = await (await fetch(`${d.url}/metrics`)).text()
    return /aitbc_tasks\{outcome="expired"\} 2/.test(m)
  })
  t.pass('aitbc_tasks{outcome="expired"} counts the removed records')
})
