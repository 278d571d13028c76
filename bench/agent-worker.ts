/**
 * Tasks end to end through a real daemon's HTTP API with 8 agents, three
 * ways in the same run on the same redis-server: hand-written long-poll
 * agents (the raw HTTP path, with ?next=1), AgentWorker (8 workers), and
 * BullMQ's Worker (concurrency 8) draining the same number of jobs. Each is
 * warmed up once, then run 3 times; medians and ratios are printed.
 * Target: AgentWorker adds under 10% to the raw HTTP figure.
 *
 *   npm run bench:agent
 */
import { Queue, Worker } from 'bullmq'
import { AgentWorker } from '../src/agent/index.js'
import { api, startDaemon } from '../test/fixtures/daemon.js'
import { waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { fmt, percentile, printTable } from './stats.js'

const TASKS = 3000
const AGENTS = 8
const RUNS = 3
const PAYLOAD = { model: 'llama2', prompt: 'x'.repeat(200) }

const redis = await startRedis()
const daemon = await startDaemon({ args: ['--redis-url', redis.url, '--set', 'redis.prefix="benchagent:"', '--log-level', 'warn'], waitReady: false })
await waitFor('daemon up', () => fetch(`${daemon.url}/health`).then((r) => r.ok, () => false), { timeoutMs: 20_000 })
let round = 0

async function fill(type: string): Promise<void> {
  await Promise.all(Array.from({ length: 16 }, async (_, w) => {
    for (let i = w; i < TASKS; i += 16) await api(daemon.url, 'POST', '/tasks/submit', { task_data: PAYLOAD, requirements: { agent_type: type } })
  }))
}

/** Hand-written agents: long poll, then complete-and-next, as bench:tasks does. */
async function raw(): Promise<number> {
  const type = `raw${round++}`
  for (let i = 0; i < AGENTS; i++) {
    await api(daemon.url, 'POST', '/agents/register', { agent_id: `${type}-${i}`, agent_type: type, metadata: { capacity: 1 } })
  }
  await fill(type)
  let done = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: AGENTS }, async (_, i) => {
    const id = `${type}-${i}`
    let task: { task_id: string } | null = null
    while (done < TASKS) {
      if (task === null) {
        const res = await fetch(`${daemon.url}/agents/${id}/tasks/next?wait_ms=100`)
        if (res.status === 204) continue
        task = (await res.json() as { task: { task_id: string } }).task
      }
      const res = await api(daemon.url, 'POST', `/tasks/${task.task_id}/complete?next=1`, { agent_id: id, result: 'ok' })
      task = res.body.next_task as { task_id: string } | null
      done++
    }
  }))
  return TASKS / ((performance.now() - started) / 1000)
}

async function worker(): Promise<number> {
  const type = `worker${round++}`
  await fill(type)
  let done = 0
  let resolve!: () => void
  const all = new Promise<void>((r) => (resolve = r))
  const workers = Array.from({ length: AGENTS }, (_, i) => new AgentWorker({
    urls: [daemon.url], registration: { agent_id: `${type}-${i}`, agent_type: type }, pollWaitMs: 100, processor: () => 'ok',
  }))
  for (const w of workers) w.on('completed', () => ++done === TASKS && resolve())
  const started = performance.now()
  await Promise.all(workers.map((w) => w.run()))
  await all
  const perSecond = TASKS / ((performance.now() - started) / 1000)
  await Promise.all(workers.map((w) => w.close()))
  return perSecond
}

async function bullmq(): Promise<number> {
  const connection = { host: '127.0.0.1', port: redis.port }
  const queue = new Queue(`bench${round++}`, { connection })
  await queue.addBulk(Array.from({ length: TASKS }, () => ({ name: 'task', data: PAYLOAD })))
  let done = 0
  const started = performance.now()
  await new Promise<void>((resolve) => {
    const w = new Worker(queue.name, async () => 'ok', { connection, concurrency: AGENTS })
    w.on('completed', () => {
      if (++done === TASKS) void w.close().then(() => resolve())
    })
  })
  const perSecond = TASKS / ((performance.now() - started) / 1000)
  await queue.close()
  return perSecond
}

const median = (xs: number[]): number => percentile([...xs], 50)
const results: Record<string, number[]> = { raw: [], worker: [], bullmq: [] }
const runs = { raw, worker, bullmq }
for (const run of Object.values(runs)) await run() // warm-up, not counted
for (let i = 0; i < RUNS; i++) for (const [name, run] of Object.entries(runs)) results[name]!.push(await run())
const [r, w, b] = [median(results.raw!), median(results.worker!), median(results.bullmq!)]
console.log(`${TASKS} tasks drained by ${AGENTS} agents/workers, median of ${RUNS} runs after a warm-up, one redis-server, node ${process.version}`)
printTable(['path', 'tasks/s (median)', 'runs'], [
  ['raw HTTP agents (?next=1)', Math.round(r), results.raw!.map(Math.round).join(' ')],
  ['AgentWorker over HTTP', Math.round(w), results.worker!.map(Math.round).join(' ')],
  ['BullMQ Worker, concurrency 8', Math.round(b), results.bullmq!.map(Math.round).join(' ')],
])
console.log(`AgentWorker / raw HTTP: ${fmt(w / r)} (overhead ${fmt((1 - w / r) * 100, 1)}%, target under 10%); AgentWorker / BullMQ: ${fmt(w / b)}`)
await daemon.stop()
await redis.stop()
process.exit(0)
