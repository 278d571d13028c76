import t from 'tap'
import { SenderRate } from '../../../src/p2p/index.js'

// The per-sender token bucket behind messages.rate, on a clock the test gives.
t.test('burst at once, then perSecond; each sender on its own', async (t) => {
  const rate = new SenderRate({ perSecond: 10, burst: 5 })
  const at = 1_000_000
  t.same(Array.from({ length: 5 }, () => rate.take('a', at)), [0, 0, 0, 0, 0], 'the burst is admitted')
  t.equal(rate.take('a', at), 100, 'the sixth waits 100 ms (10 per second)')
  t.equal(rate.take('b', at), 0, 'another sender is not affected')
  t.equal(rate.take('a', at + 100), 0, 'one refilled after 100 ms')
  t.ok(rate.take('a', at + 100) > 0, 'and only one')
  t.same(Array.from({ length: 5 }, () => rate.take('a', at + 10_000)), [0, 0, 0, 0, 0], 'a quiet spell refills at most the burst')
  t.ok(rate.take('a', at + 10_000) > 0)
})

t.test('the senders tracked stay bounded; a forgotten one gets a full bucket, never a refusal', async (t) => {
  const rate = new SenderRate({ perSecond: 1, burst: 2, maxSenders: 3 })
  const at = 5_000_000
  for (const s of ['a', 'b', 'c', 'd', 'e']) t.equal(rate.take(s, at), 0)
  t.ok(rate.tracked <= 3, `${rate.tracked} buckets kept`)
})
