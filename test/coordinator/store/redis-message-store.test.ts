import { Redis } from 'ioredis'
import { pino } from 'pino'
import t from 'tap'
import { ERRORS, redisKeys, RedisMessageStore } from '../../../src/coordinator/index.js'
import type { InboundMessage } from '../../../src/p2p/index.js'
import { startRedis } from '../../fixtures/redis-server.js'

// The receiver's store-before-ack against a real redis-server: messages that
// arrive together are stored in one script call (a group commit), each caller
// learns its own outcome, and none is lost or stored twice.
const redis = await startRedis({ appendonly: false })
const client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
client.on('error', () => {})
const info = new Redis(redis.url)
info.on('error', () => {})
t.teardown(async () => {
  client.disconnect()
  info.disconnect()
  await redis.stop()
})

const BIG = { maxMessages: 100_000, maxBytes: 64 << 20 }
const log = pino({ level: 'silent' })
const BOUNDS = { inboxBounds: BIG, outboxBounds: BIG, log }
let n = 0
function store(maxGroup?: number) {
  const keys = redisKeys(`ms${n++}:`)
  return { keys, store: new RedisMessageStore({ redis: client, keys, node: 'me', maxGroup, ...BOUNDS }) }
}
const message = (id: string, at = Date.now(), from = 'peer', body: unknown = { id }): InboundMessage => ({
  id, from, from_peer: `12D3KooW${from}`, to: 'me', body, sent_at: at, expires_at: at + 60_000, received_at: at,
})
const evalCalls = async () => {
  const stats = await info.info('commandstats')
  return ['eval', 'evalsha', 'fcall'].reduce((sum, c) => sum + Number(new RegExp(`cmdstat_${c}:calls=(\\d+)`).exec(stats)?.[1] ?? 0), 0)
}

t.test('100 messages arriving together: every one stored once, in a few calls, not 100', async (t) => {
  const { keys, store: s } = store()
  await info.config('RESETSTAT')
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => s.acceptInbound(message(`m${i}`))))
  t.same(results, Array.from({ length: 100 }, () => 'delivered'))
  const calls = await evalCalls()
  t.ok(calls <= 3, `stored in ${calls} script calls`)
  t.equal(await client.zcard(keys.inbox('me')), 100)
  t.equal(await client.hlen(keys.inboxData('me')), 100)
  const inbox = await s.inbox(100)
  t.same(new Set(inbox.map((m) => m.id)), new Set(Array.from({ length: 100 }, (_, i) => `m${i}`)))
})

t.test('a message alone goes at once; a duplicate in the same group, or of an earlier one, is reported as such', async (t) => {
  const { keys, store: s } = store()
  t.equal(await s.acceptInbound(message('a')), 'delivered')
  const results = await Promise.all([s.acceptInbound(message('b')), s.acceptInbound(message('b')), s.acceptInbound(message('a'))])
  t.same(results, ['delivered', 'duplicate', 'duplicate'])
  t.equal(await client.hlen(keys.inboxData('me')), 2)
})

t.test('groups are bounded: 10 messages with a group of 3 take at least 4 calls and all arrive', async (t) => {
  const { keys, store: s } = store(3)
  await info.config('RESETSTAT')
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.acceptInbound(message(`g${i}`))))
  t.equal(results.filter((r) => r === 'delivered').length, 10)
  t.ok(await evalCalls() >= 4, 'no call stored more than 3')
  t.equal(await client.zcard(keys.inbox('me')), 10)
})

t.test('entries older than the retention leave the inbox as new ones arrive', async (t) => {
  const keys = redisKeys(`ms${n++}:`)
  const s = new RedisMessageStore({ redis: client, keys, node: 'me', retentionMs: 1000, ...BOUNDS })
  await s.acceptInbound(message('old', Date.now() - 5000))
  t.equal(await client.zcard(keys.inbox('me')), 1)
  await s.acceptInbound(message('new'))
  t.same(await client.zrange(keys.inbox('me'), 0, -1), ['peer/new'])
  t.same(await client.hkeys(keys.inboxData('me')), ['peer/new'])
})

t.test('Redis away: every waiting caller gets the error (nothing is acknowledged), and the next group works', async (t) => {
  const { keys, store: s } = store()
  await redis.kill()
  const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => s.acceptInbound(message(`x${i}`))))
  t.same(results.map((r) => r.status), Array.from({ length: 5 }, () => 'rejected'))
  t.match((results[0] as PromiseRejectedResult).reason, { code: 'REDIS_UNAVAILABLE' })
  await redis.restart()
  t.equal(await s.acceptInbound(message('after')), 'delivered')
  t.same(await client.zrange(keys.inbox('me'), 0, -1), ['peer/after'])
})

// Issue 28: de-duplication per (sender, id), and the inbox and outbox bounds.

t.test('the squat: another member\'s copy of an id stores its own entry and suppresses nothing', async (t) => {
  const { keys, store: s } = store()
  t.equal(await s.acceptInbound(message('x', Date.now(), 'squatter', 'fake')), 'delivered')
  t.equal(await s.acceptInbound(message('x', Date.now(), 'peer', 'real')), 'delivered', 'the real sender\'s message is stored')
  t.equal(await s.acceptInbound(message('x', Date.now(), 'peer', 'real')), 'duplicate', 'its second copy is a duplicate')
  t.equal(await client.hlen(keys.inboxData('me')), 2)
  t.same((await s.inbox(10)).map((m) => `${m.from}: ${String(m.body)}`).sort(), ['peer: real', 'squatter: fake'])
})

t.test('hasInbound: per (sender, id), stored or on its way in', async (t) => {
  const { store: s } = store()
  t.equal(await s.hasInbound('me', 'peer', 'h1'), false, 'nothing yet')
  const storing = s.acceptInbound(message('h1'))
  t.equal(await s.hasInbound('me', 'peer', 'h1'), true, 'a copy being stored counts once it lands')
  t.equal(await storing, 'delivered')
  t.equal(await s.hasInbound('me', 'peer', 'h1'), true, 'stored')
  t.equal(await s.hasInbound('me', 'other', 'h1'), false, 'another sender\'s id is another message')
  t.equal(await store().store.hasInbound('me', 'peer', 'h1'), false, 'another prefix sees nothing')
})

function bounded(inboxBounds: { maxMessages: number, maxBytes: number }, outboxBounds = BIG) {
  const keys = redisKeys(`ms${n++}:`)
  const seen: { dropped: number, messages: number, bytes: number }[] = []
  const s = new RedisMessageStore({ redis: client, keys, node: 'me', inboxBounds, outboxBounds, log, onInbox: (size) => seen.push(size) })
  return { keys, s, seen }
}
const storedBytes = async (keys: ReturnType<typeof redisKeys>) => {
  const values = await client.hvals(keys.inboxData('me'))
  return values.reduce((sum, v) => sum + Buffer.byteLength(v), 0)
}

t.test('inbox past maxMessages: the oldest are dropped and counted, the newest kept', async (t) => {
  const { keys, s, seen } = bounded({ maxMessages: 5, maxBytes: 64 << 20 })
  const at = Date.now()
  for (let i = 0; i < 8; i++) t.equal(await s.acceptInbound(message(`c${i}`, at + i)), 'delivered')
  t.same(await client.zrange(keys.inbox('me'), 0, -1), ['c3', 'c4', 'c5', 'c6', 'c7'].map((id) => `peer/${id}`))
  t.equal(await client.hlen(keys.inboxData('me')), 5)
  t.equal(seen.reduce((sum, x) => sum + x.dropped, 0), 3, 'three drops reported')
  t.equal(Number(await client.get(keys.inboxBytes('me'))), await storedBytes(keys), 'the byte count is exact')
})

t.test('inbox past maxBytes: 40 messages of 100 KB keep at most 1 MiB, the count stays exact', async (t) => {
  const { keys, s, seen } = bounded({ maxMessages: 1000, maxBytes: 1 << 20 })
  const body = 'b'.repeat(100_000)
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => s.acceptInbound(message(`b${i}`, Date.now(), 'peer', body))))
  t.equal(results.filter((r) => r === 'delivered').length, 40)
  const bytes = await storedBytes(keys)
  t.ok(bytes <= 1 << 20 && bytes > (1 << 20) - 200_000, `kept ${bytes} bytes`)
  t.equal(Number(await client.get(keys.inboxBytes('me'))), bytes)
  t.equal(seen.at(-1)?.bytes, bytes, 'reported as stored')
  t.equal(await client.zcard(keys.inbox('me')), await client.hlen(keys.inboxData('me')), 'index and data agree')
})

const outgoing = (id: string, targets: string[], body: unknown = 'hi') => {
  const now = Date.now()
  return { id, from: 'me', to: targets[0] ?? 'all', targets, body, created_at: now, expires_at: now + 60_000 }
}

t.test('outbox: queued messages are never dropped, so a full one refuses with 429 OUTBOX_FULL', async (t) => {
  const keys = redisKeys(`ms${n++}:`)
  const s = new RedisMessageStore({ redis: client, keys, node: 'me', inboxBounds: BIG, outboxBounds: { maxMessages: 3, maxBytes: 64 << 20 }, log })
  for (const id of ['q1', 'q2', 'q3']) await s.saveOutgoing(outgoing(id, ['peer']))
  // The store throws a domain error; the error catalog gives its HTTP status.
  await t.rejects(s.saveOutgoing(outgoing('q4', ['peer'])), { code: 'OUTBOX_FULL' })
  t.equal(ERRORS.OUTBOX_FULL.status, 429)
  t.equal(await s.getOutgoing('q4'), null, 'nothing stored')
  await s.setReceipt('q2', 'peer', { state: 'delivered', attempts: 1, updated_at: Date.now(), reason: null })
  await s.saveOutgoing(outgoing('q4', ['peer']))
  t.equal(await s.getOutgoing('q2'), null, 'the finished one made room')
  t.same((await s.pendingOutgoing()).map((m) => m.id).sort(), ['q1', 'q3', 'q4'], 'every queued one kept')
})

t.test('outbox past maxBytes: the oldest finished messages are forgotten', async (t) => {
  const keys = redisKeys(`ms${n++}:`)
  const s = new RedisMessageStore({ redis: client, keys, node: 'me', inboxBounds: BIG, outboxBounds: { maxMessages: 1000, maxBytes: 1 << 20 }, log })
  const body = 'o'.repeat(100_000)
  for (let i = 0; i < 30; i++) await s.saveOutgoing(outgoing(`o${i}`, [], body))
  const kept = await client.zrange(keys.sent('me'), 0, -1)
  t.ok(kept.length >= 9 && kept.length <= 10, `${kept.length} kept`)
  t.equal(kept.at(-1), 'o29', 'the newest kept')
  t.equal(await s.getOutgoing('o0'), null, 'the oldest forgotten')
  t.ok(Number(await client.get(keys.sentBytes('me'))) <= 1 << 20)
})
