/**
 * Messages with receipts between two daemons on loopback, beside NATS
 * JetStream (Debian's nats-server, a file stream, publish awaiting its ack,
 * the `nats` npm client) and a naive libp2p baseline (a fresh stream per
 * message), in the same run, ours and JetStream alternating BENCH_RUNS times
 * (default 3) per concurrency; medians printed. Then the receiver daemon's RSS
 * growth over the run, 10, 30 and 60 s after the last message (with its V8
 * heap and external memory from its /metrics, to say what holds it).
 *
 *   apt-get install nats-server && npm run bench:messages
 *
 * Sender: this process runs the daemon's own Mesh + Redis outbox (the code
 * behind POST /messages, without HTTP). Receiver: a real `aitbc-node daemon`
 * process that persists every message in Redis before it acks. One
 * redis-server (AOF on, like the embedded one) is shared, as in production.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { Redis } from 'ioredis'
import { redisKeys } from '../src/coordinator/index.js'
import { configSchema } from '../src/daemon/config/schema.js'
import { createMeshNode } from '../src/p2p/mesh-node.js'
import { startDaemon } from '../test/fixtures/daemon.js'
import { startTestMesh } from '../test/fixtures/mesh.js'
import { freePort, waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { connect, type NatsConnection, StorageType } from 'nats'
import { drive, fmt, median, NAIVE_PROTOCOL, percentile, printTable } from './stats.js'

const RUNS: { concurrency: number, count: number, naiveCount: number }[] = [
  { concurrency: 1, count: 4_000, naiveCount: 2_000 },
  { concurrency: 16, count: 15_000, naiveCount: 5_000 },
  { concurrency: 64, count: 20_000, naiveCount: 5_000 },
]
const PAIRS = Number(process.env.BENCH_RUNS ?? 3)

const redis = await startRedis()
const dir = mkdtempSync(join(tmpdir(), 'aitbc-bench-'))
const senderPort = await freePort()
const receiver = await startDaemon({
  args: ['--name', 'receiver', '--redis-url', redis.url, '--log-level', 'warn', '--set', 'redis.prefix="bench:"',
    '--peer', `sender=/ip4/127.0.0.1/tcp/${senderPort}`,
    // The bench measures throughput, so the per-sender rate limit is lifted.
    '--set', 'messages.rate.perSecond=100000', '--set', 'messages.rate.burst=1000000'],
  waitReady: false,
})
await waitFor('receiver ready', () => receiver.child.exitCode === null && fetch(`${receiver.url}/health`).then((r) => r.ok), { timeoutMs: 20_000 })

const client = new Redis(redis.url, { enableAutoPipelining: true })
const sender = await startTestMesh({
  name: 'sender', dir, port: senderPort, peers: [{ name: 'receiver', address: receiver.p2pAddress }],
  redis: client, prefix: 'bench:', intervalMs: 1000, logLevel: 'warn',
})
await waitFor('receiver online', () => sender.view.stateOf('receiver') === 'online', { timeoutMs: 20_000 })

const naivePort = await freePort()
const naiveChild = spawn(process.execPath, [fileURLToPath(new URL('./naive-receiver.js', import.meta.url)), String(naivePort)], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
const naiveAddr = await new Promise<string>((resolve) => naiveChild.stdout.once('data', (b: Buffer) => resolve(b.toString().trim())))
const naiveClient = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0', inbound: configSchema.parse({}).p2p.inbound })
await naiveClient.start()
const naiveTarget = multiaddr(naiveAddr)
await naiveClient.dial(naiveTarget)

async function viaMessenger(i: number): Promise<void> {
  const rec = await sender.messenger.send({ to: 'receiver', body: `m${i}`, ttlMs: 60_000, waitMs: 30_000 })
  if (rec.receipts.receiver?.state !== 'delivered') throw new Error(`message ${i}: ${JSON.stringify(rec.receipts)}`)
}

async function viaFreshStream(i: number): Promise<void> {
  const stream = await naiveClient.dialProtocol(naiveTarget, NAIVE_PROTOCOL)
  const enc = new TextEncoder()
  const body = enc.encode(JSON.stringify({ t: 'msg', id: `n${i}`, from: 'sender', to: 'receiver', body: `m${i}` }))
  const io = lpStream(stream)
  await io.write(body)
  await io.read()
  await stream.close()
}

// NATS JetStream: a file stream on its own server, acked publishes.
const natsPort = await freePort()
const natsDir = mkdtempSync(join(tmpdir(), 'aitbc-bench-nats-'))
const nats = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', natsDir], { stdio: 'ignore' })
const nc = await waitFor('nats-server up', () => connect({ servers: `127.0.0.1:${natsPort}` }).catch(() => false), { timeoutMs: 10_000 }) as NatsConnection
await (await nc.jetstreamManager()).streams.add({ name: 'BENCH', subjects: ['bench.>'], storage: StorageType.File })
const js = nc.jetstream()
const encoder = new TextEncoder()
async function viaJetStream(i: number): Promise<void> {
  await js.publish('bench.receiver', encoder.encode(JSON.stringify({ body: `m${i}` })))
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024
await drive(2000, 16, viaMessenger)
await drive(2000, 16, viaJetStream)
await drive(200, 8, viaFreshStream)
const rssBefore = rssMb(receiver.child.pid!)
let sent = 0
const rows: (string | number)[][] = []
for (const run of RUNS) {
  const ours: { perSecond: number, p50: number, p99: number }[] = []
  const theirs: { perSecond: number, p50: number }[] = []
  for (let pair = 0; pair < PAIRS; pair++) {
    const o = await drive(run.count, run.concurrency, viaMessenger)
    sent += run.count
    ours.push({ perSecond: o.perSecond, p50: percentile(o.latencies, 50), p99: percentile(o.latencies, 99) })
    const j = await drive(run.count, run.concurrency, viaJetStream)
    theirs.push({ perSecond: j.perSecond, p50: percentile(j.latencies, 50) })
  }
  const naive = await drive(run.naiveCount, run.concurrency, viaFreshStream)
  const ratios = ours.map((o, i) => o.perSecond / theirs[i]!.perSecond)
  rows.push([
    run.concurrency,
    Math.round(median(ours.map((o) => o.perSecond))),
    fmt(median(ours.map((o) => o.p50)), 3),
    fmt(median(ours.map((o) => o.p99)), 3),
    Math.round(median(theirs.map((x) => x.perSecond))), fmt(median(theirs.map((x) => x.p50)), 3),
    fmt(median(ratios), 2),
    Math.round(naive.perSecond),
  ])
}
console.log(`messages with receipts, sender mesh -> receiver daemon on loopback, beside JetStream acked publishes to a file stream`)
console.log(`(node ${process.version}; ${PAIRS} alternating pairs per row after a warm-up; medians; ratio = median of the pairs' ratios)`)
printTable(
  ['concurrency', 'receipts/s', 'p50 ms', 'p99 ms', 'JetStream acks/s', 'JetStream p50', 'ratio', 'naive libp2p msgs/s'],
  rows,
)
console.log('targets: ratio >= 1.0 at concurrency 64, >= 0.5 at 1')
const inbox = await client.zcard(redisKeys('bench:').inbox('receiver'))
console.log(`receiver inbox holds ${inbox} messages (every one persisted before its ack)`)
/** The receiver's V8 heap (total, used) and external memory in MB, from its /metrics. */
async function heapOf(): Promise<string> {
  const text = await (await fetch(`${receiver.url}/metrics`)).text()
  const mb = (name: string) => fmt(Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN) / 1048576, 1)
  return `heap ${mb('nodejs_heap_size_total_bytes')} MB (${mb('nodejs_heap_size_used_bytes')} used), external ${mb('nodejs_external_memory_bytes')} MB`
}
console.log(`receiver daemon RSS: ${fmt(rssBefore, 1)} MB after warm-up; after ${sent} more messages (target <= +10 MB after settling):`)
const settled = performance.now()
for (const s of [10, 30, 60]) {
  await new Promise((r) => setTimeout(r, s * 1000 - (performance.now() - settled)))
  const rss = rssMb(receiver.child.pid!)
  console.log(`  ${s} s later: ${fmt(rss, 1)} MB (+${fmt(rss - rssBefore, 1)} MB); ${await heapOf()}`)
}
await nc.close()
nats.kill('SIGTERM')
rmSync(natsDir, { recursive: true, force: true })

await naiveClient.stop()
naiveChild.kill('SIGTERM')
await sender.stop()
client.disconnect()
await receiver.stop()
await redis.stop()
rmSync(dir, { recursive: true, force: true })
process.exit(0)
