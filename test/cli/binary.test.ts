import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { BIN, startDaemon } from '../fixtures/daemon.js'
import { serveLocal } from '../fixtures/http-server.js'
import { freePort } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const exec = promisify(execFile)
const redis = await startRedis()
const d = await startDaemon({ args: ['--redis-url', redis.url] })
t.teardown(async () => {
  await d.stop()
  await redis.stop()
})

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, AITBC_URL: d.url, ...env },
    })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

t.test('the operator guide verbs: register, list, status, update-status, remove', async (t) => {
  const reg = await cli([
    'agents', 'register', '--agent-id', 'my-agent', '--type', 'worker',
    '--capabilities', 'data-processing,analysis,debugging', '--services', 'task-execution,coordination',
    '--endpoints', '{"http":"http://my-host:9002"}', '--metadata', '{"version":"1.0.0","owner":"my-team"}',
  ])
  t.equal(reg.code, 0, reg.stderr)
  t.match(reg.stdout, /Agent my-agent registered successfully/)

  const list = await cli(['agents', 'list'])
  t.match(list.stdout, /AGENT\s+TYPE\s+STATUS/)
  t.match(list.stdout, /my-agent\s+worker\s+active\s+1\.00\s+closed\s+data-processing,analysis,debugging/)
  t.match(list.stdout, /Found 1 agents/)

  const json = await cli(['--json', 'agents', 'list', '--status', 'active'])
  t.match(JSON.parse(json.stdout), {
    status: 'success',
    count: 1,
    agents: [{ agent_id: 'my-agent', metadata: { owner: 'my-team' } }],
  })

  const status = await cli(['agents', 'status', '--agent-id', 'my-agent'])
  t.match(status.stdout, /endpoints\s+\{"http":"http:\/\/my-host:9002"\}/)

  const upd = await cli(['agents', 'update-status', '--agent-id', 'my-agent', '--status', 'maintenance'])
  t.match(upd.stdout, /agent my-agent is now maintenance/)
  t.match((await cli(['agents', 'list', '--status', 'active'])).stdout, /Found 0 agents/)

  const rm = await cli(['agents', 'remove', '--agent-id', 'my-agent'])
  t.equal(rm.code, 0)
  const gone = await cli(['agents', 'status', '--agent-id', 'my-agent'])
  t.equal(gone.code, 1)
  t.match(gone.stderr, /AGENT_NOT_FOUND: agent my-agent is not registered/)
})

t.test('errors: bad flags, bad status, unreachable daemon', async (t) => {
  const badJson = await cli([
    'agents',
    'register',
    '--agent-id',
    'x',
    '--type',
    'w',
    '--endpoints',
    'not-json',
  ])
  t.equal(badJson.code, 2)
  t.match(badJson.stderr, /--endpoints expects a JSON object/)
  await cli(['agents', 'register', '--agent-id', 'x', '--type', 'w'])
  const badStatus = await cli(['agents', 'update-status', '--agent-id', 'x', '--status', 'sleepy'])
  t.equal(badStatus.code, 1)
  t.match(badStatus.stderr, /VALIDATION_FAILED: invalid body: status/)
  const closed = await freePort()
  const down = await cli(['agents', 'list'], { AITBC_URL: `http://127.0.0.1:${closed}` })
  t.equal(down.code, 1)
  t.match(
    down.stderr,
    `cannot reach aitbc-node at http://127.0.0.1:${closed} (ECONNREFUSED): is the daemon running`,
  )
})

t.test('a server that is not a daemon: non-JSON, a dropped connection, an event stream refused', async (t) => {
  const { url } = await serveLocal(t, (req, res) => {
    if (req.url === '/agents/discover') return res.end('<html>a proxy page</html>')
    if (req.url === '/agents/x') return req.socket.destroy()
    if (req.url?.startsWith('/ops?')) return res.end(JSON.stringify({ status: 'success', op_id: '00000000-0000-4000-8000-000000000000' }))
    res.writeHead(500)
    res.end('{}')
  })
  const html = await cli(['agents', 'list'], { AITBC_URL: url })
  t.equal(html.code, 1)
  t.match(html.stderr, 'POST /agents/discover: HTTP 200 with a non-JSON body: <html>a proxy page</html>')
  const reset = await cli(['agents', 'status', '--agent-id', 'x'], { AITBC_URL: url })
  t.equal(reset.code, 1)
  t.match(reset.stderr, `cannot reach aitbc-node at ${url} (ECONNRESET)`)
  const events = await cli(['status'], { AITBC_URL: url })
  t.equal(events.code, 1)
  t.match(events.stderr, 'cannot follow operation 00000000-0000-4000-8000-000000000000: HTTP 500')
  t.notMatch(`${html.stderr}${reset.stderr}${events.stderr}`, /\n\s+at /, 'no stack traces')
})

t.test('config check prints the effective config with secrets redacted', async (t) => {
  const out = await cli(['config', 'check', '--redis-url', 'redis://:pw-secret@10.0.0.1:6379/0'], {
    AITBC_API_TOKEN: 'very-secret-token-123456',
  })
  t.equal(out.code, 0)
  const parsed = JSON.parse(out.stdout)
  t.equal(parsed.config.redis.url, 'redis://:[redacted]@10.0.0.1:6379/0')
  t.notMatch(out.stdout, /pw-secret|very-secret-token/)
  const bad = await cli(['config', 'check', '--set', 'coordinator.prot=1'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /unknown config key coordinator\.prot/)
})

t.test('usage errors exit 2; --json prints JSON for refused requests too', async (t) => {
  const unknown = await cli(['nodes', '--no-such-flag'])
  t.equal(unknown.code, 2, 'an unknown option')
  t.match(unknown.stderr, /unknown option '--no-such-flag'/)
  const missing = await cli(['agents', 'register', '--type', 'w'])
  t.equal(missing.code, 2, 'a missing required option')
  t.equal((await cli(['--help'])).code, 0, '--help is no error')
  const refused = await cli(['--json', 'agents', 'status', '--agent-id', 'nobody'])
  t.equal(refused.code, 1)
  t.match(JSON.parse(refused.stdout), { status: 'error', code: 'AGENT_NOT_FOUND', message: /nobody/ }, 'the refusal as JSON on stdout')
})

t.test('ai status: the guide\'s CLI health check', async (t) => {
  const res = await cli(['ai', 'status'])
  t.equal(res.code, 0)
  t.match(res.stdout, /: (healthy|degraded) \(version /)
  t.match(res.stdout, /redis: ok/)
})
