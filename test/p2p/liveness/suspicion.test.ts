import t from 'tap'
import {
  firedLate,
  judgeSuspicion,
  newSuspicion,
  pingTimeoutMs,
  suspicionWindowMs,
  Suspicions,
} from '../../../src/p2p/liveness/suspicion.js'
import { waitFor } from '../../fixtures/poll.js'

const SUSPICION_MS = 1000

t.test('the window: twice suspicionMs while no helper denied, once after a denial, plus twice the own lag', async (t) => {
  const s = newSuspicion(0)
  t.equal(suspicionWindowMs(s, SUSPICION_MS, 0), 2000, 'no helper could say: twice')
  t.equal(suspicionWindowMs(s, SUSPICION_MS, 150), 2300, 'a lagging process waits longer')
  s.denied.push('gamma')
  t.equal(suspicionWindowMs(s, SUSPICION_MS, 0), 1000, 'a helper could not reach it either: once')
})

t.test('a suspicion waits out its window, then needs two misses and every helper answered', async (t) => {
  const s = newSuspicion(1000)
  s.misses = 1
  t.same(judgeSuspicion(s, 1500, SUSPICION_MS, 0), { kind: 'wait', dueAt: 1000 + 2000 + 1 }, 'judged again 1 ms after the window')
  t.same(judgeSuspicion(s, 3001, SUSPICION_MS, 0), { kind: 'undecided' }, 'one miss is not enough')
  s.misses = 2
  s.pending = 1
  t.same(judgeSuspicion(s, 3001, SUSPICION_MS, 0), { kind: 'undecided' }, 'a helper still due')
  s.pending = 0
  t.same(judgeSuspicion(s, 3001, SUSPICION_MS, 0), { kind: 'offline', waitedMs: 2001 })
})

t.test('a denial shrinks the window: the recheck moves up', async (t) => {
  const s = newSuspicion(0)
  s.misses = 2
  t.same(judgeSuspicion(s, 100, SUSPICION_MS, 0), { kind: 'wait', dueAt: 2001 })
  s.denied.push('gamma')
  t.same(judgeSuspicion(s, 100, SUSPICION_MS, 0), { kind: 'wait', dueAt: 1001 })
  t.same(judgeSuspicion(s, 1000, SUSPICION_MS, 0), { kind: 'offline', waitedMs: 1000 })
})

t.test('a helper that reached it vouches: never offline, whatever the time', async (t) => {
  const s = newSuspicion(0)
  s.misses = 5
  s.denied.push('gamma')
  s.vouchedBy = 'delta'
  t.same(judgeSuspicion(s, 1_000_000, SUSPICION_MS, 0), { kind: 'vouched', by: 'delta' })
})

t.test('a suspect\'s ping waits to the end of suspicionMs, others the plain timeout', async (t) => {
  t.equal(pingTimeoutMs(undefined, 500, 400, SUSPICION_MS), 400)
  t.equal(pingTimeoutMs(newSuspicion(0), 100, 400, SUSPICION_MS), 900, 'until since + suspicionMs')
  t.equal(pingTimeoutMs(newSuspicion(0), 900, 400, SUSPICION_MS), 400, 'never less than the timeout')
})

t.test('a timeout that fired late (this process stalled) proves nothing', async (t) => {
  t.notOk(firedLate(450, 400, 400), 'within half the timeout')
  t.ok(firedLate(601, 400, 400), 'over half the timeout late')
  t.notOk(firedLate(1150, 1000, 1000), 'late by less than 200 ms')
  t.ok(firedLate(1201, 1000, 1000), 'at most 200 ms of slack')
})

t.test('the table: begin, end and a new window', async (t) => {
  const table = new Suspicions()
  t.notOk(table.has('beta'))
  const first = table.begin('beta', 10)
  t.ok(table.has('beta'))
  t.equal(table.get('beta'), first)
  const second = table.begin('beta', 20)
  t.not(second, first, 'a new window replaces the old')
  t.equal(table.get('beta')?.since, 20)
  t.ok(table.end('beta'), 'ending reports there was one')
  t.notOk(table.end('beta'), 'a second end finds none')
  t.equal(table.size, 0)
})

t.test('a recheck fires once at its time and can only move up', async (t) => {
  const table = new Suspicions()
  table.begin('beta', 0)
  const fired: string[] = []
  const now = performance.now()
  table.recheckAt('beta', now + 5000, now, () => fired.push('late'))
  table.recheckAt('beta', now + 20, now, () => fired.push('early'))
  table.recheckAt('beta', now + 10_000, now, () => fired.push('later still'))
  t.equal(table.timers, 1, 'one timer per suspect')
  await waitFor('the moved-up recheck', () => fired.length > 0, { timeoutMs: 3000 })
  t.same(fired, ['early'])
  t.equal(table.timers, 0, 'a fired recheck leaves no timer')
  table.endAll()
})

t.test('a suspect that answered leaves no timer behind', async (t) => {
  const table = new Suspicions()
  table.begin('beta', 0)
  table.begin('gamma', 0)
  let fired = 0
  const now = performance.now()
  table.recheckAt('beta', now + 30, now, () => fired++)
  table.recheckAt('gamma', now + 30, now, () => fired++)
  t.equal(table.timers, 2)
  table.end('beta')
  t.equal(table.timers, 1, 'the answered suspect\'s timer is gone')
  table.begin('gamma', 1)
  t.equal(table.timers, 0, 'a new window drops the old window\'s timer')
  const until = performance.now() + 120
  await waitFor('the timers\' time passed', () => performance.now() > until, { timeoutMs: 3000 })
  t.equal(fired, 0, 'neither timer fired')
  table.recheckAt('nobody', now + 10, now, () => fired++)
  t.equal(table.timers, 0, 'no timer for a name that is no suspect')
  table.begin('delta', 0)
  table.recheckAt('delta', performance.now() + 10_000, performance.now(), () => fired++)
  table.endAll()
  t.equal(table.timers, 0, 'stop ends every window and its timer')
})
