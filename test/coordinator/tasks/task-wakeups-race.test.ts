import { Redis } from 'ioredis'
import { pino } from 'pino'
import t from 'tap'
import { redisKeys, TaskWakeups } from '../../../src/coordinator/index.js'
import type { IdleClaim } from '../../../src/coordinator/tasks/task-wakeups.js'
import { waitFor } from '../../fixtures/poll.js'
import { startRedis } from '../../fixtures/redis-server.js'

// A wake-up that reaches the daemon while an agent's claim is still on its way
// (the claim found nothing; the event came before the agent waits) is not lost:
// wait() with the sequence read before the claim answers at once.
const redis = await startRedis({ appendonly: false })
const publisher = new Redis(redis.url)
const keys = redisKeys('race:')
const wakeups = new TaskWakeups({
  subscriber: new Redis(redis.url), channel: keys.taskEvents, handOffChannel: keys.handOffs('i1'),
  log: pino({ level: 'silent' }), instance: 'i1',
})
await wakeups.start()
t.teardown(async () => {
  await wakeups.stop()
  publisher.disconnect()
  await redis.stop()
})

const empty = (can: string[], cannot: string[] = []): IdleClaim => ({ task: null, why: 'empty', inFlight: 0, can, cannot })

/** Publishes task events and waits until this process has taken them in. */
async function events(...raw: string[]): Promise<void> {
  const target = wakeups.sequence + raw.length
  for (const r of raw) await publisher.publish(keys.taskEvents, r)
  await waitFor('events taken in', () => wakeups.sequence >= target)
}

t.test('a ready task announced during the claim wakes the agent at once, not at its timeout', async (t) => {
  const since = wakeups.sequence
  await events('r|')
  const started = Date.now()
  const woken = await wakeups.wait('a1', empty(['']), 5000, undefined, since)
  t.ok(Date.now() - started < 1000, 'answered at once')
  t.match(woken, { requirementClass: '' })
})

t.test('an event the agent could not use does not wake it', async (t) => {
  const since = wakeups.sequence
  // A class it was told it cannot take, and another agent's assignment.
  await events('r|gpu', 'a|someone-else')
  const woken = await wakeups.wait('a1', empty([''], ['gpu']), 300, undefined, since)
  t.equal(woken, null, 'it waited out its time')
})

t.test('an assignment to this agent and an agents change (for an agent not told "empty") wake it', async (t) => {
  let since = wakeups.sequence
  await events('a|a1')
  t.match(await wakeups.wait('a1', empty([]), 5000, undefined, since), { requirementClass: null })
  since = wakeups.sequence
  await events('g')
  const full: IdleClaim = { task: null, why: 'full', inFlight: 2, can: [], cannot: [] }
  t.match(await wakeups.wait('a1', full, 5000, undefined, since), { requirementClass: null })
})

t.test('more events than are kept since the claim: the agent looks again', async (t) => {
  const since = wakeups.sequence
  await events(...Array.from({ length: 80 }, () => 'a|someone-else'))
  t.match(await wakeups.wait('a1', empty(['']), 5000, undefined, since), { requirementClass: null })
})

t.test('with nothing since its claim, the agent waits, and a later event wakes it as before', async (t) => {
  const since = wakeups.sequence
  const waiting = wakeups.wait('a1', empty(['']), 5000, undefined, since)
  await waitFor('waiting', () => wakeups.waiting === 1)
  await publisher.publish(keys.taskEvents, 'r|')
  t.match(await waiting, { requirementClass: '' })
})
