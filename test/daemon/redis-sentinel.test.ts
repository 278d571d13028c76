import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { api, startDaemon } from '../fixtures/daemon.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// A real Sentinel (redis-server --sentinel) monitoring a real master: the
// daemon finds the master through it from a redis+sentinel:// URL.
const master = await startRedis()
const dir = mkdtempSync(join(tmpdir(), 'aitbc-sentinel-'))
const sentinelPort = await freePort()
const conf = join(dir, 'sentinel.conf')
writeFileSync(conf, `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor aitbcmaster 127.0.0.1 ${master.port} 1\n`)
const sentinel: ChildProcess = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] })
t.teardown(async () => {
  const exited = new Promise((r) => sentinel.once('exit', r))
  sentinel.kill('SIGTERM')
  await exited
  await master.stop()
  rmSync(dir, { recursive: true, force: true })
})
await waitFor('sentinel to accept connections', async () => {
  const { Socket } = await import('node:net')
  return new Promise<boolean>((resolve) => {
    const s = new Socket()
    s.once('error', () => resolve(false))
    s.connect(sentinelPort, '127.0.0.1', () => {
      s.destroy()
      resolve(true)
    })
  })
})

t.test('a redis+sentinel:// URL reaches the master the sentinel names', async (t) => {
  const d = await startDaemon({ args: ['--redis-url', `redis+sentinel://127.0.0.1:${sentinelPort}/aitbcmaster/0`] })
  t.teardown(() => d.stop())
  const ready = d.logs.find((l) => l.msg === 'daemon ready') as { registry?: { kind: string } }
  t.equal(ready.registry?.kind, 'sentinel')
  t.equal((await api(d.url, 'POST', '/agents/register', { agent_id: 'via-sentinel', agent_type: 'worker' })).status, 200)
  // the agent is in the master itself, where the runbook's redis-cli would look
  const { Redis } = await import('ioredis')
  const direct = new Redis(master.url)
  t.teardown(() => direct.disconnect())
  t.equal(await direct.hget('agent:via-sentinel', 'status'), 'active')
})
