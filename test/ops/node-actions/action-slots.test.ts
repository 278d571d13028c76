import t from 'tap'
import { ActionSlots } from '../../../src/ops/index.js'

const never = new AbortController().signal

t.test('at most max run at once; the rest start in order as slots free', async (t) => {
  const slots = new ActionSlots(2)
  const far = Date.now() + 10_000
  const a = await slots.acquire(far, never, 'a')
  const b = await slots.acquire(far, never, 'b')
  const order: string[] = []
  const c = slots.acquire(far, never, 'c').then((r) => (order.push('c'), r))
  const d = slots.acquire(far, never, 'd').then((r) => (order.push('d'), r))
  await new Promise((r) => setImmediate(r))
  t.equal(slots.runningCount, 2)
  t.equal(slots.waitingCount, 2)
  a()
  a()
  const rc = await c
  t.same(order, ['c'], 'a double release frees one slot only')
  b()
  const rd = await d
  t.same(order, ['c', 'd'])
  rc()
  rd()
  t.equal(slots.runningCount, 0)
  t.equal(slots.peak, 2)
})

t.test('a waiter whose deadline passes is refused and never starts', async (t) => {
  const slots = new ActionSlots(1)
  const hold = await slots.acquire(Date.now() + 10_000, never, 'hold')
  const started = Date.now()
  const late = await slots.acquire(Date.now() + 100, never, 'late').catch((e: unknown) => e)
  t.match(late, { code: 'ERR_ACTION_DEADLINE', message: /late.*not started/ })
  t.ok(Date.now() - started < 1000, 'refused at its deadline, not when the slot freed')
  hold()
  t.equal(slots.runningCount, 0, 'the expired waiter took no slot')
})

t.test('an aborted waiter leaves the queue; a full queue is refused at once', async (t) => {
  const slots = new ActionSlots(1, 1)
  const hold = await slots.acquire(Date.now() + 10_000, never, 'hold')
  const ctrl = new AbortController()
  const waiting = slots.acquire(Date.now() + 10_000, ctrl.signal, 'w')
  const over = await slots.acquire(Date.now() + 10_000, never, 'over').catch((e: unknown) => e)
  t.match(over, { code: 'ERR_ACTION_BUSY' })
  ctrl.abort()
  t.match(await waiting.catch((e: unknown) => e), { code: 'ERR_ACTION_DEADLINE' })
  t.equal(slots.waitingCount, 0)
  hold()
})
