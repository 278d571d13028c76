import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { lpStream } from '@libp2p/utils'
import t, { type Test } from 'tap'
import { api } from '../fixtures/api.js'
import { meshTestBed } from '../fixtures/mesh.js'
import { type MeshNode, startMeshNode } from '../fixtures/mesh-node.js'
import { daemonAddress, newIdentity, type Outsider, startOutsider } from '../fixtures/outsider.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// The floods of issue 28 against two in-process mesh nodes, built with the daemon's wiring, on one real Redis: 400 messages
// of 60 KB through the API, and 1,000 frames of 200 KiB (and of 60 KB) from a
// member that is a plain libp2p peer. Redis may grow by the configured bounds
// and no more, and the registry keeps answering. Also the squat: a member that
// sends another member's message id first does not suppress that message.
const MiB = 1024 * 1024
const BOUNDS = { inboxBytes: 2 * MiB, outboxBytes: 2 * MiB }
const { redis, dir } = await meshTestBed(t, 'floods')
const info = new Redis(redis.url)
info.on('error', () => {})
t.teardown(() => info.disconnect())

const members = await Promise.all(['probe', 'squatter'].map(async (name) => {
  const id = await newIdentity()
  const port = await freePort()
  const node = await startOutsider({ key: id.key, listen: `/ip4/127.0.0.1/tcp/${port}` })
  return { name, node, peer: { name, address: `/ip4/127.0.0.1/tcp/${port}`, peerId: id.peerId } }
}))
t.teardown(() => Promise.all(members.map((m) => m.node.stop())))
const [probe, squatter] = members as [typeof members[0], typeof members[0]]

const names = ['genesis', 'follower']
const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const)))
const nodes: MeshNode[] = []
for (const name of names) {
  const node = await startMeshNode({
    name, dir, port: ports[name]!, redisUrl: redis.url, prefix: 'floods:',
    peers: [
      ...names.filter((p) => p !== name).map((p) => ({ name: p, address: `/ip4/127.0.0.1/tcp/${ports[p]}` })),
      ...members.map((m) => m.peer),
    ],
    config: {
      messages: {
        inbox: { maxBytes: BOUNDS.inboxBytes }, outbox: { maxBytes: BOUNDS.outboxBytes },
        // Low enough that this loaded test machine's floods pass it.
        rate: { perSecond: 5, burst: 20 },
      },
    },
  })
  t.teardown(() => node.stop())
  nodes.push(node)
}
const [genesis, follower] = nodes as [MeshNode, MeshNode]
await waitFor('follower online', () => genesis.mesh.view.stateOf('follower') === 'online', { timeoutMs: 10_000 })
const followerAddr = daemonAddress(`/ip4/127.0.0.1/tcp/${ports.follower}`, follower.mesh.peerId)

const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await info.info('memory'))![1])
// The follower runs in this process, with genesis and the members: its RSS is this process's, an upper bound.
const rss = (_d: MeshNode): number => process.memoryUsage.rss()
const mb = (n: number): string => (n / MiB).toFixed(1)
/** Samples the daemon's RSS every 100 ms until stopped; returns the peak. */
function rssPeak(d: MeshNode): () => number {
  let peak = rss(d)
  const timer = setInterval(() => {
    peak = Math.max(peak, rss(d))
  }, 100)
  return () => {
    clearInterval(timer)
    return Math.max(peak, rss(d))
  }
}

/** The registry answers: an agent registers and is discovered within 10 s (the test machine is loaded). */
async function registryAnswers(t: Test, agentId: string): Promise<void> {
  const started = Date.now()
  const reg = await api(genesis.url, 'POST', '/agents/register', { agent_id: agentId, agent_type: 'worker', capabilities: ['flood-check'] })
  t.equal(reg.status, 200, `${agentId} registers`)
  const found = await api(follower.url, 'POST', '/agents/discover', { capabilities: ['flood-check'] })
  t.equal(found.status, 200)
  t.ok((found.body.agents as { agent_id: string }[]).some((a) => a.agent_id === agentId), `${agentId} is discovered`)
  t.ok(Date.now() - started < 10_000, `register + discover took ${Date.now() - started} ms`)
}

type Ack = { result: string, reason: string | null }

/** Writes the frames on one message stream and collects acks until there is one per frame or the stream ends (or 30 s). */
async function exchange(node: Outsider, frames: unknown[]): Promise<Ack[]> {
  // A connection the daemon is closing is dialled again, as a flooding sender would.
  const stream = await waitFor('a message stream', () => node.dialProtocol(followerAddr, '/aitbc/msg/1.0.0', { signal: AbortSignal.timeout(5000) }))
  const enc = new TextEncoder()
  const io = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
  const acks: Ack[] = []
  const signal = AbortSignal.timeout(30_000)
  try {
    // One frame at a time, as the window allows: a sender that encodes the next only when it can send it.
    const writing = (async () => {
      for (const f of frames) await io.write(enc.encode(JSON.stringify(f)), { signal })
    })()
    writing.catch(() => {}) // a reset ends the reads below too
    while (acks.length < frames.length) {
      const chunk = await io.read({ signal })
      acks.push(JSON.parse(new TextDecoder().decode(chunk.subarray())) as Ack)
    }
  } catch {
    // A stream the daemon resets ends the exchange; the frames without an ack are counted as such.
  } finally {
    stream.abort(new Error('done'))
  }
  return acks
}

/** Sends `count` frames, 50 per stream as a sender that reconnects would, and collects every ack. */
async function flood(node: Outsider, make: () => unknown, count: number): Promise<{ acks: Ack[], unacked: number }> {
  const acks: Ack[] = []
  for (let sent = 0; sent < count; sent += 50) {
    acks.push(...await exchange(node, Array.from({ length: Math.min(50, count - sent) }, make)))
  }
  return { acks, unacked: count - acks.length }
}
const frame = (from: string, body: unknown, id: string = randomUUID()) =>
  ({ t: 'msg', id, from, to: 'follower', body, sent_at: Date.now(), expires_at: Date.now() + 600_000 })
const tally = (acks: Ack[]) =>
  acks.reduce<Record<string, number>>((o, a) => ({ ...o, [a.result]: (o[a.result] ?? 0) + 1 }), {})

t.test('the squat: a member that sends another\'s message id first does not suppress it', async (t) => {
  const id = randomUUID()
  const [first] = await exchange(squatter.node, [frame('squatter', 'squatter body', id)])
  t.equal(first?.result, 'delivered')
  const [real] = await exchange(probe.node, [frame('probe', 'the real body', id)])
  t.equal(real?.result, 'delivered', 'the real sender\'s receipt is delivered')
  const [again] = await exchange(probe.node, [frame('probe', 'the real body', id)])
  t.equal(again?.result, 'duplicate', 'the same sender\'s second copy is a duplicate')
  const inbox = await waitFor('both in the inbox', async () => {
    const res = await api(follower.url, 'GET', '/messages/inbox?limit=20')
    const same = (res.body.messages as { id: string, from: string, body: unknown }[]).filter((m) => m.id === id)
    return same.length === 2 ? same : undefined
  })
  t.same(inbox.map((m) => `${m.from}: ${String(m.body)}`).sort(), ['probe: the real body', 'squatter: squatter body'])
})

t.test('a body over messages.maxBodyBytes from a member: a rejected receipt naming the bound, as the API\'s 413', async (t) => {
  const body = 'w'.repeat(100_000)
  const [ack] = await exchange(squatter.node, [frame('squatter', body)])
  t.equal(ack?.result, 'rejected')
  t.match(ack?.reason, /^too_large: .*messages\.maxBodyBytes/)
  const res = await api(genesis.url, 'POST', '/messages', { to: 'follower', body })
  t.equal(res.status, 413)
  t.match(res.body, { code: 'MESSAGE_TOO_LARGE' })
})

t.test('400 messages of 60 KB through the API: Redis grows by the bounds at most, floods get 429', async (t) => {
  const before = await usedMemory()
  const body = 'x'.repeat(60_000)
  const statuses: Record<number, number> = {}
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < 400) {
      next++
      const res = await api(genesis.url, 'POST', '/messages', { to: 'follower', body, wait_ms: 0 })
      statuses[res.status] = (statuses[res.status] ?? 0) + 1
    }
  }
  await Promise.all([...Array.from({ length: 8 }, worker), registryAnswers(t, 'during-api-flood')])
  await registryAnswers(t, 'after-api-flood')
  const growth = (await usedMemory()) - before
  t.comment(`API flood: statuses ${JSON.stringify(statuses)}; Redis used_memory ${mb(before)} -> ${mb(before + growth)} MB`)
  t.same(Object.keys(statuses).filter((s) => s !== '202' && s !== '429'), [], 'only 202 and 429 answers')
  t.ok((statuses[429] ?? 0) > 0, 'a flooding caller is refused with 429')
  t.ok(growth <= 2 * (BOUNDS.inboxBytes + BOUNDS.outboxBytes), `Redis grew ${mb(growth)} MB; bounds ${mb(BOUNDS.inboxBytes + BOUNDS.outboxBytes)} MB`)
})

t.test('1,000 frames of 200 KiB from a member: refused before storage; Redis and RSS stay put', async (t) => {
  const before = await usedMemory()
  const rssBefore = rss(follower)
  const peak = rssPeak(follower)
  const big = 'y'.repeat(200 * 1024)
  const started = Date.now()
  const [res] = await Promise.all([
    flood(probe.node, () => frame('probe', big), 1000),
    registryAnswers(t, 'during-big-frames'),
  ])
  await registryAnswers(t, 'after-big-frames')
  const growth = (await usedMemory()) - before
  const rssPeakBytes = peak()
  t.comment(`200 KiB frames: acks ${JSON.stringify(tally(res.acks))}, ${res.unacked} without ack, after ${Date.now() - started} ms; `
    + `Redis ${mb(before)} -> ${mb(before + growth)} MB; follower RSS ${mb(rssBefore)} MB, peak ${mb(rssPeakBytes)} MB`)
  t.equal(res.acks.filter((a) => a.result === 'delivered').length, 0, 'none stored: larger than messages.maxBodyBytes')
  t.ok(growth <= BOUNDS.inboxBytes, `Redis grew ${mb(growth)} MB`)
  t.ok(rssPeakBytes - rssBefore <= 64 * MiB, `follower RSS grew ${mb(rssPeakBytes - rssBefore)} MB at its peak`)
})

t.test('1,000 frames of 60 KB from a member: rate-limited with a reason, inbox bounded', async (t) => {
  const before = await usedMemory()
  const rssBefore = rss(follower)
  const peak = rssPeak(follower)
  const body = 'z'.repeat(60_000)
  const [res] = await Promise.all([
    flood(probe.node, () => frame('probe', body), 1000),
    registryAnswers(t, 'during-member-flood'),
  ])
  await registryAnswers(t, 'after-member-flood')
  const growth = (await usedMemory()) - before
  t.comment(`60 KB frames: acks ${JSON.stringify(tally(res.acks))}; Redis ${mb(before)} -> ${mb(before + growth)} MB; `
    + `follower RSS ${mb(rssBefore)} MB, peak ${mb(peak())} MB`)
  // A connection the loaded machine's liveness drops takes its stream's acks with it; nearly all must come back.
  t.ok(res.unacked <= 100, `${res.unacked} frames without an ack`)
  const limited = res.acks.filter((a) => a.result === 'rejected')
  t.ok(limited.length > 0, 'the flood is refused')
  t.match(limited[0]?.reason, /rate/, 'the reason names the rate limit')
  t.ok(growth <= 2 * BOUNDS.inboxBytes, `Redis grew ${mb(growth)} MB; inbox bound ${mb(BOUNDS.inboxBytes)} MB`)
  const metrics = await (await fetch(`${follower.url}/metrics`)).text()
  t.match(metrics, /aitbc_messages_refused_total\{reason="rate_limited"\} [1-9]/, 'refusals are counted by reason')
  t.match(metrics, /aitbc_messages_inbox_bytes \d+/, 'the inbox size is a metric')
})
