import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { redisKeys, type TaskLimits, TaskRepository } from '../../../src/coordinator/index.js'
import { startRedis, type TestRedis } from '../../fixtures/redis-server.js'

// The task scripts as a Redis function library: loaded once per key prefix, found again
// after FUNCTION FLUSH, and run as EVALSHA scripts where Redis has no FUNCTION command.
const day = { ageMs: 86_400_000, count: 10_000 }
const limits = (capacity = 2): TaskLimits => ({
  defaultTimeoutMs: 60_000, defaultMaxRetries: 1, maxQueueSize: 1000, retryBackoffMs: 0, agentCapacity: capacity,
  defaultStrategy: 'least_connections', agingMs: null, retention: { completed: day, failed: day, dead: day },
})

async function onRedis(t: Test, extraArgs: string[] = []): Promise<{ redis: TestRedis, client: Redis }> {
  const redis = await startRedis({ appendonly: false, extraArgs })
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  // Connection errors while a test has Redis down reach the calls; the client's own event is not a failure.
  client.on('error', () => {})
  t.teardown(async () => {
    client.disconnect()
    await redis.stop()
  })
  return { redis, client }
}

async function roundTrip(t: Test, client: Redis, repo: TaskRepository, keys: ReturnType<typeof redisKeys>): Promise<void> {
  await client.hset(keys.agent('a'), { agent_id: 'a', agent_type: 'worker', status: 'active', capabilities: '[]', services: '[]' })
  const { task_id } = await repo.submit({ task_data: { x: 1 }, priority: 'normal', requirements: {} }, 'test')
  const next = await repo.next('a')
  t.equal(next.task?.task_id, task_id, 'the agent took the task it submitted')
  t.equal(await repo.report(task_id, 'a', 'completed', '"ok"'), 'OK')
  t.equal((await repo.get(task_id)).state, 'completed')
}

const libraries = async (client: Redis): Promise<string[]> => {
  const list = await client.function('LIST') as unknown[][]
  return list.map((lib) => String(lib[1])).sort()
}

t.test('one library whatever the settings, shared by every repository with the same key prefix', async (t) => {
  const { client } = await onRedis(t)
  const keys = redisKeys('fn:')
  const a = new TaskRepository(client, keys, limits())
  await roundTrip(t, client, a, keys)
  const first = await libraries(client)
  t.equal(first.length, 1)
  t.match(first[0], /^aitbc_tasks_[0-9a-f]{16}$/)
  // Another daemon with the same settings finds it loaded; other settings travel with each call, not in the text.
  await new TaskRepository(client, keys, limits()).queueSizes()
  t.same(await libraries(client), first)
  await new TaskRepository(client, keys, limits(5)).queueSizes()
  t.same(await libraries(client), first, 'another capacity: the same library')
  // The key layout is written into the library: another prefix gets a library of its own.
  await new TaskRepository(client, redisKeys('other:'), limits()).queueSizes()
  t.equal((await libraries(client)).length, 2)
})

t.test('two repositories with other retention on one Redis: one library, each call applies its own', async (t) => {
  const { client } = await onRedis(t)
  const keys = redisKeys('keep:')
  const keepOne = { ageMs: 86_400_000, count: 1 }
  const short = new TaskRepository(client, keys, { ...limits(), retention: { completed: keepOne, failed: day, dead: day } })
  const long = new TaskRepository(client, keys, limits())
  const finishWith = async (repo: TaskRepository): Promise<string> => {
    await client.hset(keys.agent('a'), { agent_id: 'a', agent_type: 'worker', status: 'active', capabilities: '[]', services: '[]' })
    const { task_id } = await repo.submit({ task_data: {}, priority: 'normal', requirements: {} }, 'test')
    t.equal((await repo.next('a')).task?.task_id, task_id)
    t.equal(await repo.report(task_id, 'a', 'completed', '"ok"'), 'OK')
    return task_id
  }
  const kept = [await finishWith(long), await finishWith(long), await finishWith(long)]
  t.equal(await client.zcard(keys.completedTasks), 3, 'the default retention keeps all three')
  const last = await finishWith(short)
  t.equal((await libraries(client)).length, 1, 'both repositories run one library')
  t.same(await client.zrange(keys.completedTasks, 0, -1), [last], 'the call with count 1 trimmed the index to its task')
  t.equal(await client.exists(keys.task(kept[0]!)), 0, 'a trimmed task\'s record went with it')
  await finishWith(long)
  t.equal(await client.zcard(keys.completedTasks), 2, 'the next call with the default retention trims nothing')
})

t.test('FUNCTION FLUSH under a running repository: the next call loads the library again', async (t) => {
  const { client } = await onRedis(t)
  const keys = redisKeys('flush:')
  const repo = new TaskRepository(client, keys, limits())
  await roundTrip(t, client, repo, keys)
  await client.function('FLUSH')
  t.same(await libraries(client), [])
  await roundTrip(t, client, repo, keys)
  t.equal((await libraries(client)).length, 1)
})

t.test('a Redis without the FUNCTION command runs the same scripts with EVALSHA', async (t) => {
  const { client } = await onRedis(t, ['--rename-command', 'FUNCTION', ''])
  const keys = redisKeys('eval:')
  const repo = new TaskRepository(client, keys, limits())
  await roundTrip(t, client, repo, keys)
  const stats = await client.info('commandstats')
  t.match(stats, /cmdstat_eval:calls=[1-9]/, 'the scripts ran as EVAL (then EVALSHA)')
  t.notMatch(stats, /cmdstat_fcall:/, 'no FCALL was made')
})

t.test('Redis away at the first call: the call fails with the registry error, and a later one loads and works', async (t) => {
  const { redis, client } = await onRedis(t)
  const keys = redisKeys('away:')
  const repo = new TaskRepository(client, keys, limits())
  await redis.kill()
  await t.rejects(repo.queueSizes(), { code: 'REDIS_UNAVAILABLE' })
  await redis.restart()
  await roundTrip(t, client, repo, keys)
})

t.test('a Redis user whose ACL allows scripts but not FUNCTION: the same scripts with EVALSHA', async (t) => {
  const { redis, client } = await onRedis(t)
  await client.acl('SETUSER', 'scripts-only', 'on', '>secret-0123', '~*', '&*', '+@all', '-function', '-fcall', '-fcall_ro')
  const limited = new Redis(redis.url, { username: 'scripts-only', password: 'secret-0123', maxRetriesPerRequest: 1 })
  t.teardown(() => limited.disconnect())
  const keys = redisKeys('acl:')
  const repo = new TaskRepository(limited, keys, limits())
  await roundTrip(t, limited, repo, keys)
  t.same(await libraries(client), [], 'no library was loaded')
})
