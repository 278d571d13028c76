import { Redis } from 'ioredis'
import t from 'tap'
import { redisKeys, type Task, TaskRepository } from '../../src/coordinator/index.js'
import { taskRows } from '../../src/cli/commands/tasks.js'
import { startRedis } from '../fixtures/redis-server.js'

// Issue 28: a task that completed on a retry still showed its first attempt's error in the
// CLI's ERROR column. Tasks here go through the real task scripts on a real redis-server.
const redis = await startRedis()
const client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
t.teardown(async () => {
  client.disconnect()
  await redis.stop()
})
const keys = redisKeys('cli-table:')
const day = { ageMs: 86_400_000, count: 100 }
const repo = new TaskRepository(client, keys, {
  defaultTimeoutMs: 60_000, defaultMaxRetries: 1, maxQueueSize: 100, retryBackoffMs: 0, agentCapacity: 2,
  defaultStrategy: 'least_connections', agingMs: null, retention: { completed: day, failed: day, dead: day },
})
await client.hset(keys.agent('a'), {
  agent_id: 'a', agent_type: 'worker', status: 'active', capabilities: '[]', services: '[]', metadata: '{}',
  endpoints: '{}', health_score: '1', load: '0',
})
await client.sadd(keys.activeAgents, 'a')

/** Claims the next task for agent a and reports an outcome of it (retry: a failure that may be retried). */
async function attempt(outcome: 'completed' | 'retry', payload: string): Promise<string> {
  const next = await repo.next('a')
  if (next.task === null) throw new Error(`no task: ${next.why}`)
  await repo.report(next.task.task_id, 'a', outcome, payload)
  return next.task.task_id
}
const errorCell = (task: Task): string => taskRows([task]).split('\n')[1]!.split(/\s{2,}/).at(-1)!

t.test('the ERROR column shows the last attempt: empty once a retry completed, the error while it waits or when it failed', async (t) => {
  const { task_id: id } = await repo.submit({ task_data: { x: 1 }, priority: 'normal', requirements: {} }, 'test')
  await attempt('retry', 'GPU out of memory')
  const waiting = await repo.get(id)
  t.match(waiting, { state: 'queued', attempts: 1 }, 'the first attempt failed and the task waits for its retry')
  t.equal(errorCell(waiting), 'GPU out of memory', 'a task waiting for its retry shows why the last attempt failed')

  await attempt('completed', '{"ok":true}')
  const done = await repo.get(id)
  t.match(done, { state: 'completed', attempts: 2 }, 'the retry completed')
  t.equal(errorCell(done), '-', 'a completed task shows no error')

  const { task_id: other } = await repo.submit({ task_data: { x: 2 }, priority: 'normal', requirements: {} }, 'test')
  await attempt('retry', 'first failure')
  await attempt('retry', 'second failure')
  const dead = await repo.get(other)
  t.match(dead, { state: 'dead', attempts: 2 })
  t.equal(errorCell(dead), 'second failure', 'a dead task shows its last attempt\'s error')
})
