/**
 * Daemon memory: RSS of two daemons idle, then after 100,000 messages with
 * receipts from one to the other through the HTTP API (POST /messages).
 *
 *   npm run bench:rss
 *
 * RSS also holds heap the GC has not yet returned; bench/heap.ts measures the
 * message path after a full GC to tell that apart from a leak.
 */
import { readFileSync } from 'node:fs'
import { FAST_MESH, startCluster, stopCluster, waitForState } from '../test/fixtures/cluster.js'
import type { TestDaemon } from '../test/fixtures/daemon.js'
import { waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { drive, fmt, printTable } from './stats.js'

const MESSAGES = 100_000
// DAEMON_NODE_OPTIONS=--max-semi-space-size=2 npm run bench:rss tries V8 heap settings on the daemons.
const daemonEnv: Record<string, string> = process.env.DAEMON_NODE_OPTIONS ? { NODE_OPTIONS: process.env.DAEMON_NODE_OPTIONS } : {}
const CONCURRENCY = 32

const rssMb = (d: TestDaemon): number => {
  const status = readFileSync(`/proc/${d.child.pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}
const settle = () => new Promise((r) => setTimeout(r, 5000))
const heapMb = async (d: TestDaemon): Promise<number> => {
  const text = await (await fetch(`${d.url}/metrics`)).text()
  return Number(/^aitbc_nodejs_heap_size_used_bytes (\d+)/m.exec(text)?.[1] ?? 0) / 1024 / 1024
}

const redis = await startRedis()
const cluster = await startCluster({
  names: ['sender', 'receiver'],
  redisUrl: redis.url,
  // The bench measures memory at full speed, so the per-sender rate limit is lifted.
  args: [...FAST_MESH, '--log-level', 'warn', '--set', 'redis.prefix="rss:"', '--set', 'messages.rate.perSecond=100000', '--set', 'messages.rate.burst=1000000'],
  nodeOptions: () => ({ waitReady: false, env: daemonEnv }),
})
for (const c of cluster) await waitFor(`${c.name} up`, () => fetch(`${c.daemon.url}/health`).then((r) => r.ok), { timeoutMs: 30_000 })
const [sender, receiver] = cluster.map((c) => c.daemon) as [TestDaemon, TestDaemon]
await waitForState(sender, 'receiver', 'online')
await settle()
const idle = [rssMb(sender), rssMb(receiver)]
const idleHeap = [await heapMb(sender), await heapMb(receiver)]

const send = async (i: number): Promise<void> => {
  const res = await fetch(`${sender.url}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ to: 'receiver', body: `message ${i}` }),
  })
  const body = await res.json() as { message_delivery?: { delivered: number } }
  if (res.status !== 202 || body.message_delivery?.delivered !== 1) throw new Error(`message ${i}: ${res.status} ${JSON.stringify(body)}`)
}
// Half, then the other half: growth that stops after the first half is the
// heap settling at its working size under load; growth that goes on is a leak.
const first = await drive(MESSAGES / 2, CONCURRENCY, send)
await settle()
const half = [rssMb(sender), rssMb(receiver)]
const run = await drive(MESSAGES / 2, CONCURRENCY, (i) => send(i + MESSAGES / 2))
await settle()
const after = [rssMb(sender), rssMb(receiver)]
const afterHeap = [await heapMb(sender), await heapMb(receiver)]
run.perSecond = (run.perSecond + first.perSecond) / 2

console.log(`${MESSAGES} messages through POST /messages at concurrency ${CONCURRENCY}: ${Math.round(run.perSecond)} msgs/s end to end`)
printTable(['daemon', 'idle RSS MB', 'RSS at 50k', 'RSS at 100k', 'growth MB', 'growth 50k->100k', 'heap idle', 'heap at 100k'], [
  ['sender', fmt(idle[0]!, 1), fmt(half[0]!, 1), fmt(after[0]!, 1), fmt(after[0]! - idle[0]!, 1), fmt(after[0]! - half[0]!, 1),
    fmt(idleHeap[0]!, 1), fmt(afterHeap[0]!, 1)],
  ['receiver', fmt(idle[1]!, 1), fmt(half[1]!, 1), fmt(after[1]!, 1), fmt(after[1]! - idle[1]!, 1), fmt(after[1]! - half[1]!, 1),
    fmt(idleHeap[1]!, 1), fmt(afterHeap[1]!, 1)],
])
await stopCluster(cluster)
await redis.stop()
process.exit(0)
