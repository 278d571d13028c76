import { Redis } from 'ioredis'
import t from 'tap'
import { redisKeys, RedisMessageStore } from '../../../src/coordinator/index.js'
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

let n = 0
function store(maxGroup?: number) {
  const keys = redisKeys(`ms${n++}:`)
  return { keys, store: new RedisMessageStore({ redis: client, keys, node: 'me', maxGroup }) }
}
const message = (id: string, at = Date.now()): InboundMessage => ({
  id, from: 'peer', from_peer: '12D3KooWpeer', to: 'me', body: { id }, sent_at: at, expires_at: at + 60_000, received_at: at,
})
const evalCalls = async () => {
  const stats = await info.info('commandstats')
  return ['eval', 'evalsha'].reduce((sum, c) => sum + Number(new RegExp(`cmdstat_${c}:calls=(\\d+)`).exec(stats)?.[1] ?? 0), 0)
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
  const s = new RedisMessageStore({ redis: client, keys, node: 'me', retentionMs: 1000 })
  await s.acceptInbound(message('old', Date.now() - 5000))
  t.equal(await client.zcard(keys.inbox('me')), 1)
  await s.acceptInbound(message('new'))
  t.same(await client.zrange(keys.inbox('me'), 0, -1), ['new'])
  t.same(await client.hkeys(keys.inboxData('me')), ['new'])
})

t.test('Redis away: every waiting caller gets the error (nothing is acknowledged), and the next group works', async (t) => {
  const { keys, store: s } = store()
  await redis.kill()
  const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => s.acceptInbound(message(`x${i}`))))
  t.same(results.map((r) => r.status), Array.from({ length: 5 }, () => 'rejected'))
  t.match((results[0] as PromiseRejectedResult).reason, { code: 'REDIS_UNAVAILABLE' })
  await redis.restart()
  t.equal(await s.acceptInbound(message('after')), 'delivered')
  t.same(await client.zrange(keys.inbox('me'), 0, -1), ['after'])
})
