import { readFileSync } from 'node:fs'
import type { Stream } from '@libp2p/interface'
import t from 'tap'
import { MESSAGE_PROTOCOL } from '../../src/p2p/messages/wire.js'
import { DEFAULT_MAX_BUFFERED_BYTES } from '../../src/p2p/frames.js'
import { api } from '../fixtures/api.js'
import { startDaemon, type TestDaemon } from '../fixtures/daemon.js'
import { newIdentity, startOutsider } from '../fixtures/outsider.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// A real daemon and a member that is a plain libp2p peer (libp2p's own packages) which
// accepts the daemon's message streams and never reads them. The daemon writes what it has
// for the member; once more than the bound sits unsent the stream is cut off, counted and
// logged, and the messages stay queued. Meanwhile the daemon's RSS stays bounded.
const MiB = 1024 * 1024
const redis = await startRedis()
t.teardown(() => redis.stop())
const sinkId = await newIdentity()
const sinkPort = await freePort()
const sink = await startOutsider({ key: sinkId.key, listen: `/ip4/127.0.0.1/tcp/${sinkPort}` })
t.teardown(() => sink.stop())
const held: Stream[] = []
await sink.handle(MESSAGE_PROTOCOL, (stream) => {
  // Accepted, never read: yamux grants the daemon no window past the first.
  stream.pause()
  held.push(stream)
}, { maxInboundStreams: 1024 })

const daemon = await startDaemon({
  args: [
    '--name', 'genesis', '--redis-url', redis.url, '--set', 'redis.prefix="stall:"',
    '--peer', `sink=/ip4/127.0.0.1/tcp/${sinkPort}@${sinkId.peerId}`,
    '--set', 'messages.rate.perSecond=1000', '--set', 'messages.rate.burst=1000',
  ],
})
t.teardown(() => daemon.stop())

async function metric(d: TestDaemon, name: string): Promise<number> {
  const text = await (await fetch(`${d.url}/metrics`)).text()
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'gm')
  return [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0)
}
const rss = (d: TestDaemon): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${d.child.pid}/status`, 'utf8'))![1]) * 1024

t.test('a member that stops reading: its stream is cut off past the bound, counted, logged; nothing lost', async (t) => {
  // Warm the daemon's heap with one round trip of the API before the baseline.
  t.equal((await api(daemon.url, 'GET', '/nodes')).status, 200)
  const rssBefore = rss(daemon)
  let rssPeak = rssBefore
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, rss(daemon))
  }, 100)
  t.teardown(() => clearInterval(sampler))
  // 200 messages of 60 KB: 12 MB for a member that reads nothing, three times the bound.
  const body = 's'.repeat(60_000)
  const ids: string[] = []
  for (let i = 0; i < 200; i++) {
    const res = await api(daemon.url, 'POST', '/messages', { to: 'sink', body, wait_ms: 0 })
    t.equal(res.status, 202, `message ${i} accepted`)
    ids.push(res.body.message_id as string)
  }
  const stalled = await waitFor('the stalled stream counted', async () => await metric(daemon, 'aitbc_p2p_stalled_streams_total') || undefined,
    { timeoutMs: 30_000 })
  t.ok(stalled >= 1, `${stalled} stream(s) cut off`)
  const line = await daemon.waitForLog('the stall logged', (l) => /stopped reading/.test(l.msg ?? ''))
  t.match(line.msg, /^sink stopped reading \/aitbc\/msg\/1\.0\.0: its stream was cut off with \d+ bytes unsent/, 'names the node, the protocol and the bytes')
  t.ok(Number(line.unsent_bytes) > DEFAULT_MAX_BUFFERED_BYTES, `cut off at ${String(line.unsent_bytes)} bytes unsent`)
  t.ok(held.length >= 1, `the sink accepted ${held.length} stream(s)`)
  // Nothing lost: every message is still queued for the member (sent again on a new stream later).
  const states = await Promise.all(ids.filter((_, i) => i % 10 === 0).map(async (id) => (await api(daemon.url, 'GET', `/messages/${id}`)).body))
  t.same(new Set(states.map((m) => (m.receipts as Record<string, { state: string }>).sink?.state)), new Set(['queued']), 'still queued')
  clearInterval(sampler)
  const growth = rssPeak - rssBefore
  t.comment(`daemon RSS ${(rssBefore / MiB).toFixed(1)} MB before, peak ${(rssPeak / MiB).toFixed(1)} MB`)
  t.ok(growth <= 64 * MiB, `daemon RSS grew ${(growth / MiB).toFixed(1)} MB at its peak (12 MB were offered)`)
})
