import t from 'tap'
import { type HealthEvidence, LocalHealth, MAX_SCORE, NO_ACCUSATION_SCORE } from '../../../src/p2p/liveness/local-health.js'

t.test('starts healthy: timeouts as configured, misses accuse', async (t) => {
  const h = new LocalHealth()
  t.equal(h.score, 0)
  t.equal(h.scale(400), 400)
  t.ok(h.accuses)
})

t.test('evidence of its own slowness stretches its timeouts, up to nine times', async (t) => {
  const changes: [number, HealthEvidence][] = []
  const h = new LocalHealth({ onChange: (score, evidence) => changes.push([score, evidence]) })
  h.worse('late_round')
  t.equal(h.scale(400), 800, 'one late round: twice')
  h.worse('late_timeout')
  h.worse('unconfirmed_miss')
  t.equal(h.multiplier, 4)
  for (let i = 0; i < 20; i++) h.worse('late_round')
  t.equal(h.score, MAX_SCORE, 'capped')
  t.equal(h.scale(1000), 9000)
  t.same(changes.slice(0, 3), [[1, 'late_round'], [2, 'late_timeout'], [3, 'unconfirmed_miss']], 'each change reported with its evidence')
  t.equal(changes.length, MAX_SCORE, 'no report while it stays capped')
})

t.test('from half the scale on it accuses no one; pings answered in time bring it back', async (t) => {
  const h = new LocalHealth()
  for (let i = 0; i < NO_ACCUSATION_SCORE - 1; i++) h.worse('late_round')
  t.ok(h.accuses, `at ${h.score} a miss still counts`)
  h.worse('late_round')
  t.notOk(h.accuses, `at ${h.score} none does`)
  h.better()
  t.ok(h.accuses, 'one answer in time and misses count again')
  for (let i = 0; i < 20; i++) h.better()
  t.equal(h.score, 0, 'never below 0')
  t.equal(h.scale(400), 400)
})
