import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { AgentWorker } from '../../src/agent/index.js'
import { api, startDaemon, type TestDaemon } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// Issue 28: the agent library emitted 2-4 `error` events per outage where the README promises one.
// A real daemon the worker talks to is stopped (and later SIGKILLed), then started again on its port.
const redis = await startRedis()
t.teardown(() => redis.stop())
const dataDir = mkdtempSync(join(tmpdir(), 'aitbc-agent-outage-'))
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
const args = ['--redis-url', redis.url, '--set', 'agents.staleAfterMs=3000']
let d: TestDaemon = await startDaemon({ dataDir, args })
const port = d.port
t.teardown(() => d.stop())

const worker = new AgentWorker({
  urls: [d.url],
  registration: { agent_id: 'outage-agent', agent_type: 'worker' },
  heartbeatMs: 200,
  pollWaitMs: 500,
  processor: (task) => ({ echo: task.task_data }),
})
const errors: string[] = []
worker.on('error', (err) => errors.push(err.message))
const recoveries: number[] = []
worker.on('recovered', () => recoveries.push(Date.now()))
const completed = new Set<string>()
worker.on('completed', (task) => completed.add(task.task_id))
await worker.run()
t.teardown(() => worker.close())

async function roundTrip(n: number): Promise<void> {
  const res = await api(d.url, 'POST', '/tasks/submit', { task_data: { n } })
  const id = String(res.body.task_id)
  await waitFor(`task ${n} completed by the worker`, () => completed.has(id), { timeoutMs: 20_000 })
}

t.test('one error event per outage, however many requests fail in it, and one recovered event when it ends', async (t) => {
  await roundTrip(1)
  t.same(errors, [], 'no error while the daemon answers')

  for (const [n, signal] of [[1, 'SIGTERM'], [2, 'SIGKILL']] as const) {
    await d.stop(signal, { keepData: true })
    // Heartbeats every 200 ms and polls with backoff (250 ms doubling): dozens of failed requests.
    await new Promise((r) => setTimeout(r, 4000))
    t.equal(errors.length, n, `outage ${n} (${signal}): ${n === 1 ? 'one error event' : 'one more error event'} (${errors.join(' | ')})`)
    d = await startDaemon({ dataDir, args, port })
    await roundTrip(n + 1)
    await waitFor('recovered', () => recoveries.length === n, { timeoutMs: 15_000 })
    t.equal(errors.length, n, 'no error event while it comes back')
  }
  t.equal(recoveries.length, 2, 'one recovered event per outage')
})
