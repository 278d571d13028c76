import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { api, BIN, startDaemon } from '../fixtures/daemon.js'
import { startRedis } from '../fixtures/redis-server.js'

const run = promisify(execFile)
const redis = await startRedis()
t.teardown(() => redis.stop())

t.test('SIGTERM drains: an in-flight request finishes, new ones get 503, then exit 0', async (t) => {
  const d = await startDaemon({ args: ['--redis-url', redis.url, '--set', 'redis.prefix="drain:"'] })
  // Start a request and hold its body open so it is in flight when the signal lands.
  const inFlight = new Promise<{ status: number, body: string }>((resolve, reject) => {
    const req = request(
      `${d.url}/agents/register`,
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        let body = ''
        res.on('data', (c) => {
          body += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    req.on('error', reject)
    req.write('{"agent_id":"late-agent",')
    setImmediate(() => {
      d.child.kill('SIGTERM')
      d.waitForLog('draining', (l) => String(l.msg).startsWith('draining'))
        .then(() => req.end('"agent_type":"worker"}'))
        .catch(reject)
    })
  })
  const res = await inFlight
  t.equal(res.status, 200, 'in-flight request completed')
  t.match(JSON.parse(res.body), { status: 'success', agent_id: 'late-agent' })
  const exit = await d.exited
  t.equal(exit.code, 0)
  t.ok(d.logs.some((l) => l.msg === 'stopped'))
  await d.stop()
})

t.test('while the daemon drains, a request gets 503 SHUTTING_DOWN and the connection is closed', async (t) => {
  // The API object a daemon drains, driven in process: no race with the socket being closed.
  const { startCoordinator } = await import('../fixtures/coordinator.js')
  const c = await startCoordinator({ redisUrl: redis.url })
  t.teardown(() => c.close())
  t.equal((await fetch(`${c.url}/agents/x`)).status, 404, 'before the drain the route answers')
  c.startDraining()
  for (const path of ['/agents/x', '/health']) {
    const res = await fetch(`${c.url}${path}`)
    t.equal(res.status, 503, `${path}: 503 while draining`)
    t.equal(res.headers.get('connection'), 'close', `${path}: the connection is not kept`)
    t.match(await res.json(), { code: 'SHUTTING_DOWN', message: /shutting down/ })
  }
})

t.test('a second signal exits at once', async (t) => {
  const d = await startDaemon({
    args: ['--redis-url', redis.url, '--set', 'coordinator.shutdownTimeoutMs=20000'],
  })
  // hold a request open so the graceful stop cannot finish by itself
  const req = request(`${d.url}/agents/register`, { method: 'POST', headers: { 'content-type': 'application/json' } })
  req.on('error', () => {})
  await new Promise<void>((resolve) => req.write('{', () => resolve()))
  // a full round trip on another connection: the daemon's event loop has been
  // through the accept of the held request's connection by the time it answers
  await api(d.url, 'GET', '/health')
  d.child.kill('SIGTERM')
  await d.waitForLog('draining', (l) => String(l.msg).startsWith('draining'))
  d.child.kill('SIGINT')
  const exit = await d.exited
  t.equal(exit.code, 1)
  t.ok(d.logs.some((l) => String(l.msg).startsWith('second signal')))
  req.destroy()
  await d.stop()
})

t.test('port in use: exit 1 with one clear line', async (t) => {
  const blocker = createServer()
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())))
  const port = (blocker.address() as { port: number }).port
  const d = await startDaemon({ port, args: ['--redis-url', redis.url], waitReady: false })
  const exit = await d.exited
  t.equal(exit.code, 1)
  t.match(d.stderr(), new RegExp(`start failed: coordinator port ${port} is already in use`))
  t.equal(d.stderr().trim().split('\n').length, 1, 'one line')
  await d.stop()
})

t.test('refuses a non-loopback listener without tokens, and says what to do', async (t) => {
  const { stderr, code } = await run(
    process.execPath,
    [BIN, 'daemon', '--host', '0.0.0.0', '--redis-url', redis.url, '--data-dir', '/tmp/aitbc-refuse'],
    {
      env: { PATH: process.env.PATH },
    },
  ).then(
    () => ({ stderr: '', code: 0 }),
    (err: { stderr: string, code: number }) => err,
  )
  t.equal(code, 1)
  t.match(stderr, /refusing to serve the API on 0\.0\.0\.0 without authentication: set AITBC_API_TOKEN/)
})

t.test('redis-server missing: one clear error with the fix', async (t) => {
  const d = await startDaemon({
    args: ['--set', 'redis.embedded.binary="/nonexistent/redis-server"'],
    waitReady: false,
  })
  const exit = await d.exited
  t.equal(exit.code, 1)
  t.match(
    d.stderr(),
    /redis-server is not installed: run "apt-get install -y redis-server" as root, or set REDIS_URL/,
  )
  await d.stop()
})

t.test('invalid configuration: exit 2 naming the key', async (t) => {
  const bad = await startDaemon({ env: { AITBC_LOG_LEVEL: 'chatty' }, waitReady: false })
  t.equal((await bad.exited).code, 2)
  t.match(bad.stderr(), /log\.level from env AITBC_LOG_LEVEL/)
  await bad.stop()
})

t.test('SIGHUP reloads the log level and says what it reloaded', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aitbc-hup-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const conf = join(dir, 'conf.yaml')
  writeFileSync(conf, 'log:\n  level: info\n')

  const e = await startDaemon({ args: ['--redis-url', redis.url, '--config', conf] })
  t.notOk(
    e.logs.some((l) => l.level === 20),
    'no debug lines at info',
  )
  writeFileSync(conf, 'log:\n  level: debug\n')
  e.child.kill('SIGHUP')
  const line = await e.waitForLog('reload line', (l) => String(l.msg).startsWith('SIGHUP'))
  t.match(line.msg, /log\.level info -> debug/)
  writeFileSync(conf, 'log:\n  level: nonsense\n')
  e.child.kill('SIGHUP')
  await e.waitForLog('bad reload kept', (l) => String(l.msg).includes('keeping the running one'))
  t.equal((await api(e.url, 'GET', '/health')).status, 200, 'still serving after a bad reload')
  t.equal((await e.stop()).code, 0)
})
