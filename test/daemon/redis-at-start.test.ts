import t from 'tap'
import { api, startDaemon, type LogLine } from '../fixtures/daemon.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { pauseRedis, startRedis } from '../fixtures/redis-server.js'

// Fifty daemons starting at once on two cores starve their shared Redis; a start
// step that read Redis then ended the daemon ("Connection is closed.", "Command
// timed out"). A Redis that is hung or down while a daemon starts is no start failure.

const retryWarning = (l: LogLine): boolean =>
  /^Redis registry not answering while .+; retrying .+: check redis\.url and that redis-server runs$/.test(String(l.msg))

t.test('Redis hung (SIGSTOP) for 4 s at start: the daemon comes up, says what it waits for, and is healthy', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const resume = pauseRedis(redis)
  t.teardown(resume)
  const stoppedAt = performance.now()
  const d = await startDaemon({ args: ['--redis-url', redis.url], waitReady: false })
  t.teardown(() => d.stop())

  const warning = await d.waitForLog('the retry warning', retryWarning, 30_000)
  t.comment(`warned: ${String(warning.msg)}`)
  await waitFor('4 s of a hung Redis', () => performance.now() - stoppedAt >= 4000, { timeoutMs: 10_000, intervalMs: 100 })
  resume()

  await d.waitForLog('daemon ready', (l) => l.msg === 'daemon ready', 30_000)
  const health = await waitFor('/health with Redis up', async () => {
    const res = await api(d.url, 'GET', '/health')
    return res.status === 200 ? res : undefined
  }, { timeoutMs: 30_000, intervalMs: 200 })
  t.match(health.body, { status: 'healthy', checks: { redis: { ok: true } } })
  t.equal((await api(d.url, 'POST', '/agents/register', { agent_id: 'a1', agent_type: 'worker', capabilities: ['gpu'] })).status, 200, 'the registry works')
  t.equal(d.child.exitCode, null, 'still running')
  t.notOk(d.logs.some((l) => String(l.msg).startsWith('start failed')), 'no start failure')
})

t.test('Redis down (connection refused) at start: the daemon answers 503 and recovers once Redis runs', async (t) => {
  const port = await freePort()
  const d = await startDaemon({ args: ['--redis-url', `redis://127.0.0.1:${port}`] })
  t.teardown(() => d.stop())
  await d.waitForLog('the retry warning', retryWarning, 30_000)
  const down = await api(d.url, 'POST', '/agents/discover', {})
  t.equal(down.status, 503)
  t.match(down.body, { code: 'REDIS_UNAVAILABLE' })
  t.equal((await api(d.url, 'GET', '/health')).status, 503)

  const redis = await startRedis({ port })
  t.teardown(() => redis.stop())
  await waitFor('/health with Redis up', async () => (await api(d.url, 'GET', '/health')).status === 200, { timeoutMs: 30_000, intervalMs: 200 })
  await waitFor('the registry answers', async () => (await api(d.url, 'POST', '/agents/discover', {})).status === 200, { timeoutMs: 30_000, intervalMs: 200 })
  await d.waitForLog('the step done late', (l) => /^Redis registry answered; .+: done$/.test(String(l.msg)), 30_000)
  t.equal(d.child.exitCode, null, 'still running')
})
