import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { startCoordinator } from '../fixtures/coordinator.js'
import { BIN } from '../fixtures/daemon.js'
import { freePort } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// The binary as a process: its exit codes, the environment it reads, where it writes. What its commands
// print is tested in-process beside them (test/cli/commands); the API here is served in-process on a real Redis.
const exec = promisify(execFile)
const redis = await startRedis()
const api = await startCoordinator({ redisUrl: redis.url })
t.teardown(async () => {
  await api.close()
  await redis.stop()
})

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, AITBC_URL: api.url, ...env },
    })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

t.test('AITBC_URL names the daemon; an unreachable one exits 1 with the fix', async (t) => {
  const reg = await cli(['agents', 'register', '--agent-id', 'my-agent', '--type', 'worker'])
  t.equal(reg.code, 0, reg.stderr)
  t.match(reg.stdout, /Agent my-agent registered successfully/)
  const closed = await freePort()
  const down = await cli(['agents', 'list'], { AITBC_URL: `http://127.0.0.1:${closed}` })
  t.equal(down.code, 1)
  t.match(
    down.stderr,
    `cannot reach aitbc-node at http://127.0.0.1:${closed} (ECONNREFUSED): is the daemon running`,
  )
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
