import { Redis } from 'ioredis'
import t from 'tap'
import { RedisHealthMonitor } from '../../../src/coordinator/index.js'
import { startCoordinator } from '../../fixtures/coordinator.js'
import { waitFor } from '../../fixtures/poll.js'
import { monitorRedis, startRedis } from '../../fixtures/redis-server.js'

t.test('health is read in the background, not per question; down the moment the connection drops, up when it is back', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  const monitor = new RedisHealthMonitor({ redis: client, intervalMs: 60_000, pingIntervalMs: 200, hungAfterMs: 450 })
  await monitor.start()
  await monitor.start()
  t.match(monitor.current, { ok: true, aof_enabled: true, error: null })

  await redis.kill()
  await waitFor('marked down', () => !monitor.current.ok, { timeoutMs: 1000 })
  t.match(monitor.current, { ok: false, latency_ms: null })
  t.type(monitor.current.error, 'string')
  await redis.restart()
  await waitFor('marked up once the connection is ready again', () => monitor.current.ok, { timeoutMs: 15_000 })
  await monitor.stop()
  await monitor.stop()
})

t.test('a Redis that stops answering is down at the next check, within its timeout', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  const monitor = new RedisHealthMonitor({
    redis: client, intervalMs: 100, timeoutMs: 300, pingIntervalMs: 200, hungAfterMs: 450,
  })
  await monitor.start()
  t.teardown(() => monitor.stop())
  process.kill(redis.pid()!, 'SIGSTOP')
  t.teardown(() => process.kill(redis.pid()!, 'SIGCONT'))
  await waitFor('marked down', () => !monitor.current.ok, { timeoutMs: 10_000 })
  t.match(monitor.current.error, /no answer within 300 ms/)
  process.kill(redis.pid()!, 'SIGCONT')
  await waitFor('up again', () => monitor.current.ok, { timeoutMs: 15_000 })
})

t.test('/health answers from the kept health: a hundred requests send Redis no PING of their own', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const api = await startCoordinator({ redisUrl: redis.url })
  t.teardown(() => api.close())
  const seen = await monitorRedis(redis.port)
  const started = performance.now()
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${api.url}/health`)
    t.equal(res.status, 200)
    await res.body?.cancel()
  }
  await new Promise((r) => setTimeout(r, 20))
  seen.stop()
  const pings = seen.lines.filter((l) => /"ping"/i.test(l)).length
  // The background PING every 200 ms (a hung Redis is found by it), and one check that may be running.
  const background = Math.ceil((performance.now() - started) / 200) + 1
  t.ok(pings <= background, `${pings} PING for 100 requests, the background's ${background} at most`)
})

t.test('a PING unanswered past hungAfterMs marks Redis down at once, long before any command times out', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1, commandTimeout: 5000 })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  const monitor = new RedisHealthMonitor({ redis: client, intervalMs: 60_000, pingIntervalMs: 100, hungAfterMs: 300 })
  await monitor.start()
  t.teardown(() => monitor.stop())
  t.ok(monitor.current.ok)
  process.kill(redis.pid()!, 'SIGSTOP')
  const stoppedAt = performance.now()
  t.teardown(() => process.kill(redis.pid()!, 'SIGCONT'))
  await waitFor('marked down', () => !monitor.current.ok, { timeoutMs: 10_000, intervalMs: 10 })
  const took = performance.now() - stoppedAt
  t.ok(took < 1000, `down ${Math.round(took)} ms after the hang (the full check waits 60 s, commands 5 s)`)
  t.equal(monitor.current.error, 'no answer to PING within 300 ms')
  process.kill(redis.pid()!, 'SIGCONT')
  await waitFor('up again once PING is answered', () => monitor.current.ok, { timeoutMs: 15_000 })
  t.match(monitor.current, { ok: true, aof_enabled: true, error: null }, 'the whole health read again')
})
