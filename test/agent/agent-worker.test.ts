import t from 'tap'
import { type AgentTask, AgentWorker, UnrecoverableError } from '../../src/agent/index.js'
import { api } from '../fixtures/api.js'
import { startCoordinator, type TestCoordinator } from '../fixtures/coordinator.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// The worker against the coordinator API with its task engine in-process, on a real Redis
// (agent-worker-failover.test.ts kills a daemon under the workers).
const redis = await startRedis()
t.teardown(() => redis.stop())

/** The coordinator API and task engine as the daemon builds them, with the settings the daemon tests used. */
async function startApi(teardown: (fn: () => Promise<void>) => void): Promise<TestCoordinator> {
  const coordinator = await startCoordinator({
    redisUrl: redis.url, engine: { agents: { staleAfterMs: 3000 }, tasks: { retryBackoffMs: 50 } },
  })
  teardown(() => coordinator.close())
  return coordinator
}

const submit = async (d: TestCoordinator, body: Record<string, unknown>): Promise<string> => {
  const res = await api(d.url, 'POST', '/tasks/submit', body)
  if (res.status !== 201) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`)
  return String(res.body.task_id)
}
const taskOf = async (d: TestCoordinator, id: string) => (await api(d.url, 'GET', `/tasks/${id}`)).body.task as { state: string, attempts: number, result: unknown, error: string | null, agent_id: string | null }

t.test('the package exports the worker as aitbc-node/agent', async (t) => {
  const spec = 'aitbc-node/agent'
  const mod = await import(spec) as { AgentWorker?: unknown }
  t.equal(typeof mod.AgentWorker, 'function')
})

t.test('failures: a throw is retried, UnrecoverableError is final, a hang past the timeout fails, a non-JSON result fails for good', async (t) => {
  const genesis = await startApi((fn) => t.teardown(fn))
  const worker = new AgentWorker({
    urls: [genesis.url],
    registration: { agent_id: 'picky', agent_type: 'worker' },
    concurrency: 4,
    pollWaitMs: 500,
    processor: async (task: AgentTask, { signal }) => {
      const kind = task.task_data.kind
      if (kind === 'flaky' && task.attempts < 2) throw new Error('transient trouble')
      if (kind === 'fatal') throw new UnrecoverableError('bad input, never retry')
      if (kind === 'hang') return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)))
      if (kind === 'bigint') return { n: 10n }
      return 'ok'
    },
  })
  const failed: string[] = []
  worker.on('failed', (_task, err) => failed.push(err.message))
  await worker.run()
  t.teardown(() => worker.close())
  const flaky = await submit(genesis, { task_data: { kind: 'flaky' }, max_retries: 3 })
  const fatal = await submit(genesis, { task_data: { kind: 'fatal' }, max_retries: 3 })
  const hang = await submit(genesis, { task_data: { kind: 'hang' }, timeout_ms: 1000, max_retries: 0 })
  const bigint = await submit(genesis, { task_data: { kind: 'bigint' }, max_retries: 3 })
  await waitFor('flaky completed on its second attempt', async () => (await taskOf(genesis, flaky)).state === 'completed', { timeoutMs: 15_000 })
  t.match(await taskOf(genesis, flaky), { attempts: 2, result: 'ok' })
  await waitFor('all final', async () => {
    const states = await Promise.all([fatal, hang, bigint].map(async (id) => (await taskOf(genesis, id)).state))
    return states.every((s) => s === 'failed' || s === 'dead')
  }, { timeoutMs: 15_000 })
  t.match(await taskOf(genesis, fatal), { attempts: 1, error: /bad input, never retry/ }, 'UnrecoverableError: one attempt')
  t.match(await taskOf(genesis, hang), { error: /did not finish within the task's timeout/ }, 'the hang is failed before its lease ends')
  t.match(await taskOf(genesis, bigint), { attempts: 1, error: /result is not JSON/ }, 'a non-JSON result fails for good')
  t.ok(failed.some((m) => /transient/.test(m)), 'failed events carry the error')
})

t.test('close() with tasks in flight lets them finish, reports them, then marks the agent inactive', async (t) => {
  const genesis = await startApi((fn) => t.teardown(fn))
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  const worker = new AgentWorker({
    urls: [genesis.url],
    registration: { agent_id: 'closer', agent_type: 'worker' },
    concurrency: 2,
    pollWaitMs: 500,
    processor: async () => {
      await gate
      return 'finished'
    },
  })
  await worker.run()
  const ids = await Promise.all([1, 2, 3].map((i) => submit(genesis, { task_data: { i } })))
  await waitFor('two running', () => worker.activeCount === 2)
  const closed = worker.close()
  setTimeout(release, 300)
  await closed
  const states = await Promise.all(ids.map(async (id) => (await taskOf(genesis, id)).state))
  t.same(states.filter((s) => s === 'completed').length, 2, 'the two running tasks finished and were reported')
  t.ok(states.includes('queued') || states.includes('assigned'), 'the third was not taken')
  t.equal(((await api(genesis.url, 'GET', '/agents/closer')).body.agent as { status: string }).status, 'inactive')
})

t.test('push: a worker with push serves /tasks/execute, runs only tasks assigned to it, and reports', async (t) => {
  const genesis = await startApi((fn) => t.teardown(fn))
  const worker = new AgentWorker({
    urls: [genesis.url],
    registration: { agent_id: 'pushed', agent_type: 'worker' },
    push: { port: 0 },
    processor: async (task) => ({ echoed: task.task_data }),
  })
  await worker.run()
  t.teardown(() => worker.close())
  const id = await submit(genesis, { task_data: { hello: 'push' } })
  await waitFor('completed through push', async () => (await taskOf(genesis, id)).state === 'completed', { timeoutMs: 10_000 })
  t.match(await taskOf(genesis, id), { result: { echoed: { hello: 'push' } }, agent_id: 'pushed' })
  const agent = (await api(genesis.url, 'GET', '/agents/pushed')).body.agent as { endpoints: { http: string } }
  const forged = await fetch(`${agent.endpoints.http}/tasks/execute`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ task_id: id, task_data: { evil: true } }),
  })
  t.equal(forged.status, 403, 'a push for a task not assigned to it runs nothing')
})
