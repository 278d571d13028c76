/**
 * The task path at scale and at rest, on one redis-server (AOF on):
 *  1. 1,000 registered agents and 100,000 queued tasks (in 10 requirement
 *     classes): a claim's latency and Redis time against 1,000 queued tasks;
 *  2. memory: 200,000 tasks through with the default retention; Redis
 *     used_memory at the end against the start plus the retained window;
 *  3. idle: one daemon with nothing to do for BENCH_IDLE_S seconds (60):
 *     its CPU and the Redis commands its task machinery sends per second.
 *
 *   npm run bench:tasks-scale      (BENCH_PARTS=claims,memory,idle picks parts)
 */
import { readFileSync } from 'node:fs'
import { Redis } from 'ioredis'
import { redisKeys, TaskRepository } from '../src/coordinator/index.js'
import { startDaemon } from '../test/fixtures/daemon.js'
import { waitFor } from '../test/fixtures/poll.js'
import { monitorRedis, startRedis } from '../test/fixtures/redis-server.js'
import { fmt, median, percentile, printTable } from './stats.js'

const redis = await startRedis()
const client = new Redis(redis.url, { enableAutoPipelining: true })
const PAYLOAD = { model: 'llama2', prompt: 'x'.repeat(200) }
const day = { ageMs: 86_400_000, count: 10_000 }
const week = { ageMs: 7 * 86_400_000, count: 10_000 }
const defaults = { completed: day, failed: week, dead: week }
let round = 0

function repository() {
  const keys = redisKeys(`scale${round++}:`)
  const repo = new TaskRepository(client, keys, {
    defaultTimeoutMs: 600_000, defaultMaxRetries: 3, maxQueueSize: 10_000_000, retryBackoffMs: 1000, agentCapacity: 1_000_000,
    defaultStrategy: 'least_connections', agingMs: null, retention: defaults,
  })
  return { keys, repo }
}

async function agents(keys: ReturnType<typeof redisKeys>, n: number, caps: (i: number) => string[]) {
  const pipe = client.pipeline()
  for (let i = 0; i < n; i++) {
    pipe.hset(keys.agent(`a${i}`), {
      agent_id: `a${i}`, agent_type: 'worker', status: 'active', capabilities: JSON.stringify(caps(i)), services: '[]',
      metadata: '{}', endpoints: '{}', health_score: '1', load: '0',
    })
    pipe.sadd(keys.activeAgents, `a${i}`)
  }
  await pipe.exec()
}

async function fill(repo: TaskRepository, n: number, classes: number) {
  for (let i = 0; i < n; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, j) => repo.submit({
      task_data: PAYLOAD, priority: 'normal', requirements: (i + j) % classes === 0 ? {} : { capabilities: [`c${(i + j) % classes}`] },
    }, 'bench')))
  }
}

async function scriptUsec(): Promise<number> {
  const info = await client.info('commandstats')
  // The task scripts run as FCALL (a function library); EVALSHA where Redis has no functions.
  const perCall = /cmdstat_(?:fcall|evalsha):calls=\d+,usec=\d+,usec_per_call=([\d.]+)/.exec(info)?.[1]
  return Number(perCall ?? Number.NaN)
}

/** Claim latency (ms) and Redis µs per claim for an agent with the given number of tasks queued. */
async function claims(queued: number): Promise<{ p50: number, p99: number, usec: number }> {
  const { keys, repo } = repository()
  await agents(keys, 1000, (i) => [`c${i % 10}`])
  await fill(repo, queued, 10)
  await client.config('RESETSTAT')
  const lat: number[] = []
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now()
    const res = await repo.next(`a${i % 1000}`)
    lat.push(performance.now() - t0)
    if (res.task === null) throw new Error('no task claimed')
  }
  return { p50: median(lat), p99: percentile(lat, 99), usec: await scriptUsec() }
}

async function memory(total: number): Promise<void> {
  const { keys, repo } = repository()
  await agents(keys, 8, () => [])
  const used = async () => Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1])
  const start = await used()
  let done = 0
  const loops = Array.from({ length: 8 }, async (_, i) => {
    let next = await repo.next(`a${i}`)
    while (done < total) {
      if (next.task === null) {
        await new Promise((r) => setTimeout(r, 1))
        next = await repo.next(`a${i}`)
        continue
      }
      next = await repo.completeAndNext(next.task.task_id, `a${i}`, '"ok"')
      done++
    }
  })
  for (let i = 0; i < total; i += 200) {
    await Promise.all(Array.from({ length: 200 }, () => repo.submit({ task_data: PAYLOAD, priority: 'normal', requirements: {} }, 'bench')))
    // Keep the backlog bounded: memory is measured for tasks going through, not waiting.
    while (i - done > 5000) await new Promise((r) => setTimeout(r, 5))
  }
  await Promise.all(loops)
  // Let the AOF buffer of the last writes drain before reading.
  await new Promise((r) => setTimeout(r, 2000))
  const end = await used()
  const kept = await client.zcard(keys.completedTasks)
  const sample = await client.zrange(keys.completedTasks, -100, -1)
  let sampled = 0
  for (const id of sample) sampled += Number(await client.memory('USAGE', keys.task(id), 'SAMPLES', '0'))
  // A record, its entry in the expiry table (about 40 B), and the index ZSET.
  const perTask = Math.round(sampled / sample.length) + 40
  const window = kept * perTask + Number(await client.memory('USAGE', keys.completedTasks, 'SAMPLES', '0'))
  printTable(['memory (200,000 tasks, default retention)', 'MB'], [
    ['used_memory at the start', fmt(start / 1e6, 1)],
    ['used_memory at the end', fmt(end / 1e6, 1)],
    [`retained window (${kept} completed tasks × ${perTask} B, and their index)`, fmt(window / 1e6, 1)],
    ['end ÷ (start + window) (target ≤ 1.2)', fmt(end / (start + window), 2)],
  ])
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return Number(f[11]) + Number(f[12])
}

async function idle(seconds: number): Promise<void> {
  const d = await startDaemon({ args: ['--redis-url', redis.url, '--set', 'redis.prefix="idle:"', '--log-level', 'warn'], waitReady: false })
  await waitFor('daemon up', () => fetch(`${d.url}/health`).then((r) => r.ok), { timeoutMs: 20_000 })
  await new Promise((r) => setTimeout(r, 3000))
  const monitor = await monitorRedis(redis.port)
  const pid = d.child.pid!
  const t0 = cpuTicks(pid)
  const started = performance.now()
  await new Promise((r) => setTimeout(r, seconds * 1000))
  const cpu = ((cpuTicks(pid) - t0) / 100) / ((performance.now() - started) / 1000)
  monitor.stop()
  const all = monitor.lines.filter((l) => l.includes('"idle:')).length
  const task = monitor.lines.filter((l) => /"idle:(tasks|agents:push|lb:|task:|agent-tasks:)/.test(l)).length
  await d.stop()
  printTable([`idle daemon, ${seconds} s`, 'figure'], [
    ['CPU of the whole daemon (mesh, sweeper, HTTP, tasks)', `${fmt(cpu * 100, 2)}%`],
    ['Redis commands/s from the task machinery', fmt(task / seconds, 2)],
    ['Redis commands/s from the whole daemon', fmt(all / seconds, 2)],
  ])
}

const parts = (process.env.BENCH_PARTS ?? 'claims,memory,idle').split(',')
if (parts.includes('claims')) {
  const small = await claims(1000)
  const big = await claims(100_000)
  printTable(['claim, 1,000 agents, 10 classes', 'p50 ms', 'p99 ms', 'Redis µs/claim'], [
    ['1,000 tasks queued', fmt(small.p50, 3), fmt(small.p99, 3), fmt(small.usec, 1)],
    ['100,000 tasks queued', fmt(big.p50, 3), fmt(big.p99, 3), fmt(big.usec, 1)],
  ])
  console.log()
}
if (parts.includes('memory')) {
  await client.flushall()
  await memory(200_000)
  console.log()
}
if (parts.includes('idle')) await idle(Number(process.env.BENCH_IDLE_S ?? 60))
client.disconnect()
await redis.stop()
process.exit(0)
