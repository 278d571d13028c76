import t from 'tap'
import { AgentWorker } from '../../src/agent/index.js'
import { FAST_MESH, startCluster, stopCluster } from '../fixtures/cluster.js'
import { api, type TestDaemon } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// A daemon process killed under the workers: the one agent-worker test that needs a process to die
// (agent-worker.test.ts runs the others against an in-process coordinator).
const redis = await startRedis()
t.teardown(() => redis.stop())
let prefixes = 0

async function twoDaemons(teardown: (fn: () => Promise<void>) => void) {
  const nodes = await startCluster({
    names: ['genesis', 'follower'],
    redisUrl: redis.url,
    args: [...FAST_MESH, '--set', `redis.prefix="aw${prefixes++}:"`, '--set', 'agents.staleAfterMs=3000', '--set', 'tasks.retryBackoffMs=50'],
  })
  teardown(() => stopCluster(nodes))
  return nodes.map((n) => n.daemon) as [TestDaemon, TestDaemon]
}

const submit = async (d: TestDaemon, body: Record<string, unknown>): Promise<string> => {
  const res = await api(d.url, 'POST', '/tasks/submit', body)
  if (res.status !== 201) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`)
  return String(res.body.task_id)
}
const taskOf = async (d: TestDaemon, id: string) => (await api(d.url, 'GET', `/tasks/${id}`)).body.task as { state: string, attempts: number, result: unknown, error: string | null, agent_id: string | null }

t.test('2,000 tasks through workers on two daemons, one daemon SIGKILLed mid-run: every task completed exactly once', async (t) => {
  const [genesis, follower] = await twoDaemons((fn) => t.teardown(fn))
  const priorities = ['urgent', 'critical', 'high', 'normal', 'low']
  // Submitted by 32 clients at once, not 2,000: this test is about a kill mid-run, and a burst of
  // 2,000 requests on a loaded 2-core machine may be answered 503 REDIS_UNAVAILABLE (documented, retryable).
  const ids: string[] = Array.from({ length: 2000 }, () => '')
  let next = 0
  await Promise.all(Array.from({ length: 32 }, async () => {
    for (let i = next++; i < 2000; i = next++) {
      ids[i] = await submit(i % 2 === 0 ? genesis : follower, { task_data: { i }, priority: priorities[i % 5], timeout_ms: 3000 })
    }
  }))
  const completions = new Map<string, number>()
  const runs = new Map<string, number>()
  const workers = [[genesis, follower], [follower, genesis]].map(([a, b], n) => new AgentWorker({
    urls: [a!.url, b!.url],
    registration: { agent_id: `w${n}`, agent_type: 'worker' },
    concurrency: 8,
    heartbeatMs: 500,
    pollWaitMs: 1000,
    processor: async (task) => {
      runs.set(task.task_id, (runs.get(task.task_id) ?? 0) + 1)
      return { doubled: (task.task_data.i as number) * 2 }
    },
  }))
  for (const w of workers) {
    w.on('completed', (task) => completions.set(task.task_id, (completions.get(task.task_id) ?? 0) + 1))
    w.on('error', () => {})
  }
  await Promise.all(workers.map((w) => w.run()))
  await waitFor('a few hundred done', () => completions.size >= 300, { timeoutMs: 30_000 })
  await genesis.stop('SIGKILL')
  const done = async () => ((await api(follower.url, 'GET', '/tasks/status')).body.stats as { tasks_completed: number }).tasks_completed
  await waitFor('all 2,000 completed', async () => (await done()) === 2000, { timeoutMs: 60_000 })
  await Promise.all(workers.map((w) => w.close()))
  const states = await Promise.all(ids.map(async (id) => (await taskOf(follower, id)).state))
  t.equal(states.filter((s) => s === 'completed').length, 2000, 'every submitted task is completed in the registry')
  t.equal([...completions.values()].filter((n) => n !== 1).length, 0, 'no task was reported completed twice')
  t.equal(completions.size, 2000, 'and the workers\' completed events name each task once')
  const sample = await taskOf(follower, ids[1999]!)
  t.match(sample, { state: 'completed', result: { doubled: 3998 } })
  t.ok(workers[0]!.url === follower.url, 'the worker that started on genesis moved to the follower')
  t.comment(`processor runs: ${[...runs.values()].reduce((a, b) => a + b, 0)} for 2000 tasks`)
})
