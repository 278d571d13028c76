import t from 'tap'
import { registerAgent, startPushAgent } from '../fixtures/agents.js'
import { api, startDaemon, type TestDaemon } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
t.teardown(() => redis.stop())

// A daemon process killed with tasks assigned (task-flow.test.ts runs the queues in-process).
async function pair(prefix: string): Promise<[TestDaemon, TestDaemon]> {
  const args = ['--redis-url', redis.url, '--set', `redis.prefix="${prefix}"`, '--set', 'tasks.retryBackoffMs=50']
  const a = await startDaemon({ args: ['--name', 'genesis', ...args] })
  const b = await startDaemon({ args: ['--name', 'follower', ...args] })
  t.teardown(async () => {
    await a.stop()
    await b.stop()
  })
  return [a, b]
}

async function submit(d: TestDaemon, body: Record<string, unknown>): Promise<string> {
  const res = await api(d.url, 'POST', '/tasks/submit', { task_data: { n: 1 }, ...body })
  if (res.status !== 201 && res.status !== 200) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`)
  return String(res.body.task_id)
}

type Stats = Record<string, number> & { load_balancer_stats: Record<string, unknown>, queue_sizes: Record<string, number> }
const stats = async (d: TestDaemon) => (await api(d.url, 'GET', '/tasks/status')).body.stats as Stats
const task = async (d: TestDaemon, id: string) => (await api(d.url, 'GET', `/tasks/${id}`)).body.task as Record<string, unknown>

t.test('a daemon SIGKILLed with tasks assigned: all complete after their leases run out, none twice', async (t) => {
  const [a, b] = await pair('kill:')
  let hangs = 0
  const agent = await startPushAgent(async (_task, n) => {
    if (n <= 5) {
      hangs++
      return 'hang'
    }
    return { status: 200, body: { status: 'completed', result: 'ok' } }
  })
  t.teardown(() => agent.close())
  await registerAgent(a.url, 'slow', { endpoints: { http: agent.url }, metadata: { capacity: 5 } })
  // Freeze the other daemon so the one that dies is the one holding the pushes.
  b.child.kill('SIGSTOP')
  t.teardown(() => {
    b.child.kill('SIGCONT')
  })
  const ids = await Promise.all([1, 2, 3, 4, 5].map(() => submit(a, { timeout_ms: 1500 })))
  await waitFor('five pushes hanging', () => hangs === 5)
  await a.stop('SIGKILL', { keepData: true })
  b.child.kill('SIGCONT')
  await waitFor('all five completed through the other daemon', async () => {
    const all = await Promise.all(ids.map((id) => task(b, id)))
    return all.every((x) => x.state === 'completed')
  }, { timeoutMs: 20_000, intervalMs: 200 })
  const s = await stats(b)
  t.equal(s.tasks_completed, 5, 'counted once each')
  t.ok((s.tasks_retried ?? 0) >= 5, 'each went back to its queue once its lease ran out')
  const second = agent.received.slice(5).map((r) => r.task_id)
  t.same(new Set(second).size, second.length, 'no task delivered twice after the takeover')
})
