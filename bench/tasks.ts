/**
 * Task throughput beside BullMQ, in one run on one redis-server (AOF on):
 *  1. library level: aitbc-node's TaskRepository in this process (submit;
 *     8 pull agents taking work with next() and completeAndNext(), woken by
 *     TaskWakeups) against BullMQ's Queue.add + Worker (concurrency 8); then
 *     bulk: 32 agents and submits 100 at a time, against addBulk + concurrency 32;
 *  2. through the HTTP API of real daemons: submits/s, and end to end with 8
 *     and 32 agents long-polling GET /agents/:id/tasks/next and completing with ?next=1
 *     (with 8 agents also with producers batching 100 tasks per POST /tasks/submit-batch);
 *  3. submit on daemon A, long poll on daemon B: submit-to-assigned latency.
 * Each is warmed up, then run 5 times (BENCH_RUNS), ours and BullMQ's alternately;
 * medians and the median ratio of the pairs are printed.
 *
 *   npm run bench:tasks
 */
import { setMaxListeners } from 'node:events'
import { Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { redisKeys, TaskRepository, TaskWakeups } from '../src/coordinator/index.js'
import { registerAgent } from '../test/fixtures/agents.js'
import { api, startDaemon, type TestDaemon } from '../test/fixtures/daemon.js'
import { waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { HttpLoad } from './http-load.js'
import { fmt, median, pairs as runPairs, printTable } from './stats.js'

const TASKS = Number(process.env.BENCH_TASKS ?? 5000)
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const PAYLOAD = { model: 'llama2', prompt: 'x'.repeat(200) }
const redis = await startRedis()
let round = 0

const keep = { ageMs: 3600_000, count: 10_000 }
const retention = { completed: keep, failed: keep, dead: keep }

/** submit -> take -> complete through the repository, `agents` pull agents, submits `batch` at a time. */
async function ours(agents: number, batch: number): Promise<number> {
  const client = new Redis(redis.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 })
  // The producer has a connection of its own, as BullMQ's Queue has beside its Worker; one
  // submit at a time gains nothing from auto-pipelining (BullMQ's connections do not use it either).
  const producerClient = new Redis(redis.url, { enableAutoPipelining: batch > 1, maxRetriesPerRequest: 1 })
  const keys = redisKeys(`bench${round++}:`)
  const limits = {
    defaultTimeoutMs: 60_000, defaultMaxRetries: 3, maxQueueSize: 1_000_000, retryBackoffMs: 1000, agentCapacity: 4,
    defaultStrategy: 'least_connections', agingMs: null, retention,
  } as const
  const repo = new TaskRepository(client, keys, limits)
  const producer = new TaskRepository(producerClient, keys, limits)
  const wakeups = new TaskWakeups({
    subscriber: client.duplicate(), channel: keys.taskEvents, handOffChannel: keys.handOffs(`bench${round}`),
    log: pino({ level: 'warn' }), instance: `bench${round}`,
    onUnclaimed: (agentId, task) => void repo.handBack(task.task_id, agentId),
  })
  await wakeups.start()
  for (let i = 0; i < agents; i++) {
    await client.hset(keys.agent(`a${i}`), 'agent_id', `a${i}`, 'agent_type', 'worker', 'status', 'active', 'capabilities', '[]',
      'services', '[]', 'metadata', '{"capacity":16}', 'capacity', '16', 'endpoints', '{}', 'health_score', '1', 'load', '0')
    await client.sadd(keys.activeAgents, `a${i}`)
  }
  let done = 0
  const stop = new AbortController()
  setMaxListeners(agents + 10, stop.signal)
  const started = performance.now()
  // Like BullMQ's worker, an agent completes a task and gets its next one in the same call.
  const loops = Array.from({ length: agents }, async (_, i) => {
    const id = `a${i}`
    const wait = { ms: 1000, instance: wakeups.instance }
    // The wake-up sequence before each claim: an event that comes while the claim is on its way still wakes it.
    let since = wakeups.sequence
    let next = await repo.next(id, wait)
    while (done < TASKS) {
      if (next.task === null) {
        // A task submitted while it waits is handed to it with the wake-up.
        const woken = await wakeups.wait(id, next, 1000, stop.signal, since)
        since = wakeups.sequence
        next = woken?.handedOff !== undefined ? { task: woken.handedOff } : await repo.next(id, wait)
        continue
      }
      // Entered as waiting in the same script when there is nothing, so the next submit hands it a task.
      since = wakeups.sequence
      next = await repo.completeAndNext(next.task.task_id, id, '"ok"', wait)
      if (++done >= TASKS) stop.abort()
    }
  })
  for (let i = 0; i < TASKS; i += batch) {
    const n = Math.min(batch, TASKS - i)
    await Promise.all(Array.from({ length: n }, () => producer.submit({ task_data: PAYLOAD, priority: 'normal', requirements: {} }, 'bench')))
  }
  await Promise.all(loops)
  const perSecond = TASKS / ((performance.now() - started) / 1000)
  await wakeups.stop()
  client.disconnect()
  producerClient.disconnect()
  return perSecond
}

async function bullmq(concurrency: number, bulk: boolean): Promise<number> {
  const connection = { host: '127.0.0.1', port: redis.port }
  const name = `bench${round++}`
  const queue = new Queue(name, { connection })
  let done = 0
  let worker: Worker | undefined
  const finished = new Promise<void>((resolve) => {
    worker = new Worker(name, async () => 'ok', { connection, concurrency })
    worker.on('completed', () => {
      if (++done === TASKS) resolve()
    })
  })
  const started = performance.now()
  if (bulk) {
    for (let i = 0; i < TASKS; i += 100) await queue.addBulk(Array.from({ length: Math.min(100, TASKS - i) }, () => ({ name: 'task', data: PAYLOAD })))
  } else {
    for (let i = 0; i < TASKS; i++) await queue.add('task', PAYLOAD)
  }
  await finished
  const perSecond = TASKS / ((performance.now() - started) / 1000)
  await worker!.close()
  await queue.obliterate({ force: true }).catch(() => {})
  await queue.close()
  return perSecond
}

/**
 * End to end over HTTP: `agents` long-polling agents drain TASKS while 8 clients submit them,
 * one per request or (`batch` > 1) that many per POST /tasks/submit-batch.
 */
async function viaHttp(d: TestDaemon, agents: number, batch = 1): Promise<{ submits: number, endToEnd: number }> {
  const tag = round++
  for (let i = 0; i < agents; i++) await registerAgent(d.url, `h${tag}-${i}`, { metadata: { capacity: 16 } })
  const http = new HttpLoad(d.url)
  let started = performance.now()
  await Promise.all(Array.from({ length: 16 }, async (_, w) => {
    for (let i = w; i < TASKS; i += 16) await http.call('POST', '/tasks/submit', { task_data: PAYLOAD })
  }))
  const submits = TASKS / ((performance.now() - started) / 1000)
  let done = 0
  // The clock stops at the last completion: agents that then sit in an empty long poll until it
  // times out (up to twice wait_ms) are not part of the work.
  let finished = 0
  started = performance.now()
  const loops = Array.from({ length: agents }, async (_, i) => {
    const id = `h${tag}-${i}`
    let task: { task_id: string } | null = null
    while (done < TASKS * 2) {
      if (task === null) {
        const res = await http.call('GET', `/agents/${id}/tasks/next?wait_ms=200`)
        if (res.status === 204) continue
        task = res.body!.task as { task_id: string }
      }
      // One request per task: the completion waits (up to 200 ms) for the next task when there is none.
      const res = await http.call('POST', `/tasks/${task.task_id}/complete?next=1&wait_ms=200`, { agent_id: id, result: 'ok' })
      task = res.body!.next_task as { task_id: string } | null
      if (++done === TASKS * 2) finished = performance.now()
    }
  })
  await Promise.all(Array.from({ length: 8 }, async (_, w) => {
    if (batch === 1) {
      for (let i = w; i < TASKS; i += 8) await http.call('POST', '/tasks/submit', { task_data: PAYLOAD })
      return
    }
    for (let i = w * batch; i < TASKS; i += 8 * batch) {
      const res = await http.call('POST', '/tasks/submit-batch', { tasks: Array.from({ length: Math.min(batch, TASKS - i) }, () => ({ task_data: PAYLOAD })) })
      if (res.status !== 201) throw new Error(`submit-batch: ${res.status}`)
    }
  }))
  await Promise.all(loops)
  const endToEnd = (TASKS * 2) / ((finished - started) / 1000)
  await http.close()
  for (let i = 0; i < agents; i++) await api(d.url, 'DELETE', `/agents/h${tag}-${i}`)
  return { submits, endToEnd }
}

/** Submit on a, one agent long-polling on b: ms from sending the submit to b answering the poll with that task. */
async function crossDaemon(a: TestDaemon, b: TestDaemon, n: number): Promise<number[]> {
  await registerAgent(b.url, 'cross', { metadata: { capacity: 1 } })
  const [httpA, httpB] = [new HttpLoad(a.url, 4), new HttpLoad(b.url, 4)]
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const poll = httpB.call('GET', '/agents/cross/tasks/next?wait_ms=5000')
    // Let the poll reach its wait.
    await new Promise((r) => setTimeout(r, 5))
    const t0 = performance.now()
    const res = await httpA.call('POST', '/tasks/submit', { task_data: { i } })
    const got = await poll
    const t1 = performance.now()
    const task = got.body?.task as { task_id: string } | undefined
    if (task === undefined || task.task_id !== res.body?.task_id) throw new Error('the cross-daemon poll got another task')
    out.push(t1 - t0)
    await httpB.call('POST', `/tasks/${task.task_id}/complete`, { agent_id: 'cross', result: null })
  }
  await Promise.all([httpA.close(), httpB.close()])
  return out
}

/** BENCH_PROFILE=lib8 runs only the first measure's pairs, with Redis's script time per task (for --cpu-prof). */
if (process.env.BENCH_PROFILE === 'lib8') {
  const info = new Redis(redis.url)
  // Ours run as FCALL (a function library), BullMQ's as EVALSHA.
  const scriptUs = async () => {
    const stats = await info.info('commandstats')
    return ['evalsha', 'fcall'].reduce((sum, cmd) => sum + Number(new RegExp(`cmdstat_${cmd}:calls=\\d+,usec=(\\d+)`).exec(stats)?.[1] ?? 0), 0)
  }
  for (let i = 0; i < RUNS; i++) {
    for (const [name, run] of [['ours', () => ours(8, 1)], ['BullMQ', () => bullmq(8, false)]] as const) {
      await info.config('RESETSTAT')
      const perSecond = await run()
      console.log(`${name}: ${Math.round(perSecond)} tasks/s, Redis scripts ${fmt(await scriptUs() / TASKS, 1)} µs per task`)
    }
  }
  info.disconnect()
  await redis.stop()
  process.exit(0)
}
const pairs = (a: () => Promise<number>, b: () => Promise<number>) => runPairs(a, b, RUNS)
const rows: (string | number)[][] = []
const [lib8, bull8, r8] = await pairs(() => ours(8, 1), () => bullmq(8, false))
rows.push(['library: add one at a time, 8 agents / concurrency 8', Math.round(lib8), Math.round(bull8), fmt(r8, 2)])
const [lib32, bull32, r32] = await pairs(() => ours(32, 100), () => bullmq(32, true))
rows.push(['library: 100 at a time (addBulk), 32 agents / concurrency 32', Math.round(lib32), Math.round(bull32), fmt(r32, 2)])

const daemonArgs = (prefix: string) => ['--redis-url', redis.url, '--set', `redis.prefix="${prefix}"`, '--log-level', 'warn']
const a = await startDaemon({ args: daemonArgs('benchhttp:'), waitReady: false })
const b = await startDaemon({ args: daemonArgs('benchhttp:'), waitReady: false })
for (const d of [a, b]) await waitFor('daemon up', () => fetch(`${d.url}/health`).then((r) => r.ok), { timeoutMs: 20_000 })
const http8: { submits: number, endToEnd: number }[] = []
const http32: { submits: number, endToEnd: number }[] = []
await viaHttp(a, 8)
for (let i = 0; i < RUNS; i++) http8.push(await viaHttp(a, 8))
for (let i = 0; i < RUNS; i++) http32.push(await viaHttp(a, 32))
const http8Batch: { submits: number, endToEnd: number }[] = []
for (let i = 0; i < RUNS; i++) http8Batch.push(await viaHttp(a, 8, 100))
await crossDaemon(a, b, 20)
const cross = await crossDaemon(a, b, 200)
await a.stop()
await b.stop()

console.log(`${TASKS} tasks per run, ${RUNS} runs each after a warm-up, alternating; one redis-server (AOF on), node ${process.version}`)
printTable(['measure', 'aitbc-node tasks/s', 'BullMQ tasks/s', 'ratio (median of pairs)'], rows)
console.log()
printTable(['HTTP API (one daemon)', 'tasks/s'], [
  ['submits, 16 clients', Math.round(median(http8.map((r) => r.submits)))],
  ['end to end, 8 long-polling agents with ?next=1 (target 3000)', Math.round(median(http8.map((r) => r.endToEnd)))],
  ['end to end, 32 agents', Math.round(median(http32.map((r) => r.endToEnd)))],
  ['end to end, 8 agents, producers sending 100 per POST /tasks/submit-batch', Math.round(median(http8Batch.map((r) => r.endToEnd)))],
])
console.log()
const sorted = [...cross].sort((x, y) => x - y)
console.log(`submit on daemon A -> task in a long poll on daemon B (200 trials): p50 ${fmt(median(cross), 2)} ms, p99 ${fmt(sorted[Math.floor(sorted.length * 0.99)]!, 2)} ms (target p50 <= 2 ms)`)
await redis.stop()
process.exit(0)
