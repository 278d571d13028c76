/**
 * Messages with receipts between two daemons on loopback, side by side with a
 * naive libp2p baseline (a fresh stream per message) in the same run.
 *
 *   npm run bench:messages
 *
 * Sender: this process runs the daemon's own Mesh + Redis outbox (the code
 * behind POST /messages, without HTTP). Receiver: a real `aitbc-node daemon`
 * process that persists every message in Redis before it acks. One
 * redis-server (AOF on, like the embedded one) is shared, as in production.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'
import { Redis } from 'ioredis'
import { redisKeys } from '../src/coordinator/index.js'
import { createMeshNode } from '../src/p2p/mesh-node.js'
import { startDaemon } from '../test/fixtures/daemon.js'
import { startTestMesh } from '../test/fixtures/mesh.js'
import { freePort, waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { drive, fmt, NAIVE_PROTOCOL, percentile, printTable } from './stats.js'

const RUNS: { concurrency: number, count: number, naiveCount: number }[] = [
  { concurrency: 1, count: 5_000, naiveCount: 2_000 },
  { concurrency: 16, count: 30_000, naiveCount: 5_000 },
  { concurrency: 64, count: 40_000, naiveCount: 5_000 },
]

const redis = await startRedis()
const dir = mkdtempSync(join(tmpdir(), 'aitbc-bench-'))
const senderPort = await freePort()
const receiver = await startDaemon({
  args: ['--name', 'receiver', '--redis-url', redis.url, '--log-level', 'warn', '--set', 'redis.prefix="bench:"',
    '--peer', `sender=/ip4/127.0.0.1/tcp/${senderPort}`],
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
const naiveClient = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0' })
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
  void stream.sink(lp.encode([body]))
  for await (const _ of lp.decode(stream.source)) break
  await stream.close()
}

await drive(500, 8, viaMessenger)
await drive(200, 8, viaFreshStream)
const rows: (string | number)[][] = []
for (const run of RUNS) {
  const ours = await drive(run.count, run.concurrency, viaMessenger)
  const naive = await drive(run.naiveCount, run.concurrency, viaFreshStream)
  rows.push([
    run.concurrency,
    Math.round(ours.perSecond), fmt(percentile(ours.latencies, 50), 3), fmt(percentile(ours.latencies, 99), 3),
    Math.round(naive.perSecond), fmt(percentile(naive.latencies, 50), 3), fmt(percentile(naive.latencies, 99), 3),
    fmt(ours.perSecond / naive.perSecond, 1),
  ])
}
console.log(`messages with receipts, sender mesh -> receiver daemon on loopback (node ${process.version})`)
printTable(
  ['concurrency', 'receipts/s', 'p50 ms', 'p99 ms', 'naive msgs/s', 'naive p50', 'naive p99', 'ratio'],
  rows,
)
const inbox = await client.zcard(redisKeys('bench:').inbox('receiver'))
console.log(`receiver inbox holds ${inbox} messages (every one persisted before its ack)`)

await naiveClient.stop()
naiveChild.kill('SIGTERM')
await sender.stop()
client.disconnect()
await receiver.stop()
await redis.stop()
rmSync(dir, { recursive: true, force: true })
process.exit(0)
