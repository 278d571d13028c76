import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { BIN, startDaemon } from '../fixtures/daemon.js'
import { startRedis } from '../fixtures/redis-server.js'

// Issue 28: plain `health` hid the deep checks (Redis, AOF, eviction, disk, clock skew) that
// `--json` shows, and named the wrong fix for AOF off. A real daemon on a real Redis without AOF.
const redis = await startRedis({ appendonly: false })
t.teardown(() => redis.stop())
const d = await startDaemon({ args: ['--redis-url', redis.url, '--name', 'solo'] })
t.teardown(() => d.stop())

async function cli(args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return promisify(execFile)(process.execPath, [BIN, '--url', d.url, ...args], { encoding: 'utf8' }).then(
    (ok) => ({ code: 0, ...ok }),
    (err: { code: number, stdout: string, stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  )
}

t.test('plain health prints every deep check, marks the failing one and says how to fix it', async (t) => {
  const plain = await cli(['health', '--target', 'solo'])
  t.equal(plain.code, 1, `a failing check fails the health operation (${plain.stderr})`)
  const lines = plain.stdout.split('\n')
  const header = lines.findIndex((l) => /^NODE\s+REDIS\s+AOF\s+EVICTION\s+DISK\s+CHAIN\s+CLOCK SKEW$/.test(l))
  t.ok(header > 0 && /^deep checks:$/.test(lines[header - 1]!), `a deep checks table:\n${plain.stdout}`)
  t.match(lines[header + 1], /^solo\s+ok\s+FAIL \(off\)\s+ok \(noeviction\)\s+ok \([\d.]+ GB free\)\s+none\s+ok \(\d+ ms\)$/,
    'one row per node: Redis reachable, AOF off failing, the rest passing')
  t.match(plain.stdout, /! solo \[health\] Redis runs without AOF \(appendonly no\)[^\n]*\n\s+-> turn AOF on in the shared Redis: appendonly yes/,
    'the failing check comes with its fix (not "check REDIS_URL")')

  const json = JSON.parse((await cli(['health', '--target', 'solo', '--json'])).stdout) as { details: { checks: Record<string, unknown> } }
  t.match(json.details.checks.solo, { redis: { ok: true }, aof: { ok: false, enabled: false }, eviction: { ok: true } },
    'the same checks as --json')
})
