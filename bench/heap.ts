/**
 * Leak check for the message path: two meshes in this process (the daemon's
 * own Mesh, Messenger and Redis store), 100,000 messages with receipts, and
 * the heap measured after a full GC before and after. Run with --expose-gc:
 *
 *   npm run bench:heap
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { Mesh } from '../src/p2p/index.js'
import { startTestMesh } from '../test/fixtures/mesh.js'
import { freePort, waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { drive, fmt, printTable } from './stats.js'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')
const MESSAGES = 100_000

const redis = await startRedis()
const dir = mkdtempSync(join(tmpdir(), 'aitbc-heap-'))
const client = new Redis(redis.url, { enableAutoPipelining: true })
const ports = { a: await freePort(), b: await freePort() }
const make = (name: 'a' | 'b', other: 'a' | 'b'): Promise<Mesh> => startTestMesh({
  name, dir, port: ports[name], peers: [{ name: other, address: `/ip4/127.0.0.1/tcp/${ports[other]}` }],
  redis: client, prefix: 'heap:', intervalMs: 1000, logLevel: 'warn',
})
const a = await make('a', 'b')
const b = await make('b', 'a')
await waitFor('b online', () => a.view.stateOf('b') === 'online', { timeoutMs: 20_000 })
const send = async (i: number): Promise<void> => {
  const rec = await a.messenger.send({ to: 'b', body: `message ${i}`, ttlMs: 60_000, waitMs: 30_000 })
  if (rec.receipts.b?.state !== 'delivered') throw new Error(`message ${i} not delivered`)
}
const heapMb = async (): Promise<number> => {
  await new Promise((r) => setTimeout(r, 500))
  gc()
  gc()
  return process.memoryUsage().heapUsed / 1024 / 1024
}
await drive(2000, 32, send)
const before = await heapMb()
await drive(MESSAGES / 2, 32, send)
const half = await heapMb()
await drive(MESSAGES / 2, 32, (i) => send(i + MESSAGES / 2))
const after = await heapMb()
console.log(`heap used after a full GC, two meshes in one process, ${MESSAGES} messages with receipts`)
printTable(['before MB', 'at 50k MB', 'at 100k MB', 'growth MB'], [[fmt(before, 1), fmt(half, 1), fmt(after, 1), fmt(after - before, 1)]])
await a.stop()
await b.stop()
client.disconnect()
await redis.stop()
rmSync(dir, { recursive: true, force: true })
process.exit(0)
