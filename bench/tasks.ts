/**
 * Task throughput, submit -> assign -> complete, with 8 pull agents:
 *  1. library level, aitbc-node's TaskStore + TaskDistributor in this process,
 *     side by side with BullMQ (Queue + Worker, concurrency 8) on the same
 *     Redis, the same payload and the same number of tasks;
 *  2. through the HTTP API of a real daemon: submits/s, and end to end with
 *     8 agents long-polling GET /agents/:id/tasks/next.
 *
 *   npm run bench:tasks
 */
import { Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { AssignmentSignals, redisKeys, TaskDistributor, TaskStore } from '../src/coordinator/index.js'
import { registerAgent } from '../test/fixtures/agents.js'
import { api, startDaemon } from '../test/fixtures/daemon.js'
import { waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { fmt, printTable } from './stats.js'

const TASKS = 5000
const AGENTS = 8
const PAYLOAD = { model: 'llama2', prompt: 'x'.repeat(200) }

const redis = await startRedis()
const rows: (string | number)[][] = []

async function ours(): Promise<number> {
  const client = new Redis(redis.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 })
  const keys = redisKeys('bench:')
  const store = new TaskStore(client, keys, {
    defaultTimeoutMs: 60_000, defaultMaxRetries: 3, maxQueueSize: 1_000_000, retryBackoffMs: 1000, agentCapacity: 4,
    defaultStrategy: 'least_connections',
  })
  const signals = new AssignmentSignals()
  const distributor = new TaskDistributor({
    store, signals, log: pino({ level: 'warn' }), pollIntervalMs: 50, agingMs: null, pushTimeoutMs: 10_000, apiUrl: () => null,
  })
  for (let i = 0; i < AGENTS; i++) {
    await client.hset(keys.agent(`a${i}`), 'agent_id', `a${i}`, 'agent_type', 'worker', 'status', 'active', 'capabilities', '[]',
      'services', '[]', 'metadata', '{"capacity":16}', 'endpoints', '{}', 'health_score', '1', 'load', '0')
    await client.sadd(keys.activeAgents, `a${i}`)
  }
  distributor.start()
  let done = 0
  const started = performance.now()
  // Like BullMQ's worker, an agent completes a task and gets its next one in the same call.
  const agents = Array.from({ length: AGENTS }, async (_, i) => {
    let task = null
    while (done < TASKS) {
      task ??= await store.nextFor(`a${i}`)
      if (task === null) {
        await signals.wait(`a${i}`, 50)
        continue
      }
      task = await store.completeAndNext(task.task_id, `a${i}`, '"ok"')
      done++
      distributor.wake()
    }
  })
  for (let i = 0; i < TASKS; i++) {
    await store.submit({ task_data: PAYLOAD, priority: 'normal', requirements: {} }, 'bench')
    distributor.wake()
  }
  await Promise.all(agents)
  const perSecond = TASKS / ((performance.now() - started) / 1000)
  await distributor.stop()
  client.disconnect()
  return perSecond
}

async function bullmq(): Promise<number> {
  const connection = { host: '127.0.0.1', port: redis.port }
  const queue = new Queue('bench', { connection })
  let done = 0
  const finished = new Promise<void>((resolve) => {
    const worker = new Worker('bench', async () => 'ok', { connection, concurrency: AGENTS })
    worker.on('completed', () => {
      if (++done === TASKS) void worker.close().then(() => resolve())
    })
  })
  const started = performance.now()
  for (let i = 0; i < TASKS; i++) await queue.add('task', PAYLOAD)
  await finished
  const perSecond = TASKS / ((performance.now() - started) / 1000)
  await queue.close()
  return perSecond
}

async function viaHttp(): Promise<{ submits: number, endToEnd: number }> {
  const d = await startDaemon({ args: ['--redis-url', redis.url, '--set', 'redis.prefix="benchhttp:"', '--log-level', 'warn'], waitReady: false })
  await waitFor('daemon up', () => fetch(`${d.url}/health`).then((r) => r.ok), { timeoutMs: 20_000 })
  for (let i = 0; i < AGENTS; i++) await registerAgent(d.url, `h${i}`, { metadata: { capacity: 16 } })
  // Submits alone (no agent polls yet).
  let started = performance.now()
  await Promise.all(Array.from({ length: 16 }, async (_, w) => {
    for (let i = w; i < TASKS; i += 16) await api(d.url, 'POST', '/tasks/submit', { task_data: PAYLOAD })
  }))
  const submits = TASKS / ((performance.now() - started) / 1000)
  // Then end to end: agents drain those, while the same number again is submitted.
  let done = 0
  started = performance.now()
  const agents = Array.from({ length: AGENTS }, async (_, i) => {
    let task: { task_id: string } | null = null
    while (done < TASKS * 2) {
      if (task === null) {
        const res = await fetch(`${d.url}/agents/h${i}/tasks/next?wait_ms=100`)
        if (res.status === 204) continue
        task = (await res.json() as { task: { task_id: string } }).task
      }
      const res = await api(d.url, 'POST', `/tasks/${task.task_id}/complete?next=1`, { agent_id: `h${i}`, result: 'ok' })
      task = res.body.next_task as { task_id: string } | null
      done++
    }
  })
  await Promise.all(Array.from({ length: 8 }, async (_, w) => {
    for (let i = w; i < TASKS; i += 8) await api(d.url, 'POST', '/tasks/submit', { task_data: PAYLOAD })
  }))
  await Promise.all(agents)
  const endToEnd = (TASKS * 2) / ((performance.now() - started) / 1000)
  await d.stop()
  return { submits, endToEnd }
}

const mine = await ours()
const theirs = await bullmq()
rows.push(['library: submit -> assign -> complete', Math.round(mine), Math.round(theirs), fmt(mine / theirs, 2)])
const http = await viaHttp()
console.log(`${TASKS} tasks, ${AGENTS} agents/workers, one redis-server (AOF on), node ${process.version}`)
printTable(['measure', 'aitbc-node tasks/s', 'BullMQ tasks/s', 'ratio'], rows)
console.log(`HTTP API: ${Math.round(http.submits)} submits/s (16 clients); ${Math.round(http.endToEnd)} tasks/s end to end (8 long-polling agents)`)
await redis.stop()
process.exit(0)
