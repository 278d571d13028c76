import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { api, startDaemon } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const agent = { agent_id: 'survivor', agent_type: 'worker', capabilities: ['gpu'] }

t.test(
  'shared Redis stopped under a running daemon: 503 with a clear message, then recovery by itself',
  async (t) => {
    const redis = await startRedis()
    t.teardown(() => redis.stop())
    const d = await startDaemon({ args: ['--redis-url', redis.url] })
    t.teardown(() => d.stop())
    t.equal((await api(d.url, 'POST', '/agents/register', agent)).status, 200)

    await redis.kill()
    const down = await waitFor('a 503 from the API', async () => {
      const res = await api(d.url, 'POST', '/agents/discover', {})
      return res.status === 503 ? res : undefined
    })
    t.match(down.body, {
      status: 'error',
      code: 'REDIS_UNAVAILABLE',
      message: /Redis registry is not reachable/,
      detail: /REDIS_URL/,
    })
    const started = Date.now()
    const health = await api(d.url, 'GET', '/health')
    t.equal(health.status, 503, '/health says unhealthy')
    t.match(health.body, { status: 'unhealthy', checks: { redis: { ok: false } } })
    t.ok(Date.now() - started < 5000, 'health answers quickly while Redis is down')
    t.equal((await api(d.url, 'GET', '/agents/survivor')).status, 503)
    t.equal(d.child.exitCode, null, 'daemon still running')

    await redis.restart()
    const back = await waitFor('the API to recover', async () => {
      const res = await api(d.url, 'GET', '/agents/survivor')
      return res.status === 200 ? res : undefined
    })
    t.match(back.body, { agent: { agent_id: 'survivor', capabilities: ['gpu'] } }, 'AOF kept the agent')
    t.equal((await api(d.url, 'GET', '/health')).status, 200)
  },
)

t.test('embedded redis-server killed: restarted by the daemon, registry intact (AOF)', async (t) => {
  const d = await startDaemon()
  t.teardown(() => d.stop())
  t.equal((await api(d.url, 'POST', '/agents/register', agent)).status, 200)
  const pidFile = join(d.dataDir, 'redis', 'redis.pid')
  const pid = Number(readFileSync(pidFile, 'utf8').trim())
  t.ok(pid > 0)
  // AOF fsyncs every second; give the write time to reach the file before the crash
  await waitFor('AOF to hold the agent', () =>
    readFileSync(join(d.dataDir, 'redis', 'appendonlydir', 'appendonly.aof.1.incr.aof'), 'utf8')
      .includes('survivor'),
  )
  process.kill(pid, 'SIGKILL')
  await d.waitForLog('restart logged', (l) => String(l.msg).includes('embedded redis-server restarted'))
  const res = await waitFor('agent readable again', async () => {
    const r = await api(d.url, 'GET', '/agents/survivor')
    return r.status === 200 ? r : undefined
  })
  t.match(res.body, { agent: { agent_id: 'survivor' } })
  const newPid = Number(readFileSync(pidFile, 'utf8').trim())
  t.not(newPid, pid, 'a new redis-server process')
  t.equal((await d.stop()).code, 0)
  let alive = true
  try {
    process.kill(newPid, 0)
  } catch {
    alive = false
  }
  t.notOk(alive, 'embedded redis-server stopped with the daemon')
})

t.test('/health warns when the shared Redis has AOF off', async (t) => {
  const redis = await startRedis({ appendonly: false })
  t.teardown(() => redis.stop())
  const d = await startDaemon({ args: ['--redis-url', redis.url] })
  t.teardown(() => d.stop())
  const health = await api(d.url, 'GET', '/health')
  t.equal(health.status, 200)
  t.match(health.body.warnings, [/without AOF/])
})
