import t from 'tap'
import { ProbeSchedule } from '../../src/p2p/liveness.js'

const members = (n: number): string[] => Array.from({ length: n }, (_, i) => `node${i}`)

/** A seeded generator, so a failure can be replayed. */
function seeded(seed: number): () => number {
  let x = seed
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31
    return x / 2 ** 31
  }
}

t.test('every member is pinged once per pass of members / count rounds', async (t) => {
  const schedule = new ProbeSchedule(seeded(7))
  const all = members(9)
  for (let pass = 0; pass < 5; pass++) {
    const seen: string[] = []
    // 9 members, 3 a round: one pass is 3 rounds.
    for (let round = 0; round < 3; round++) {
      const picked = schedule.pick(all, 3)
      t.equal(picked.length, 3, 'count members a round')
      seen.push(...picked)
    }
    t.same([...seen].sort(), [...all].sort(), `pass ${pass}: each member exactly once`)
  }
})

t.test('a round never picks a member twice, nor more members than there are', async (t) => {
  const schedule = new ProbeSchedule(seeded(3))
  for (let round = 0; round < 20; round++) {
    const picked = schedule.pick(members(4), 3)
    t.equal(new Set(picked).size, 3)
  }
  t.same(schedule.pick(members(2), 5).sort(), ['node0', 'node1'], 'fewer members than the count: all of them')
  t.same(schedule.pick([], 2), [], 'no members: nobody')
})

t.test('the order differs between nodes, so they do not all ping the same member together', async (t) => {
  const a = new ProbeSchedule(seeded(1))
  const b = new ProbeSchedule(seeded(99))
  const all = members(10)
  const firstA = Array.from({ length: 5 }, () => a.pick(all, 2)).flat()
  const firstB = Array.from({ length: 5 }, () => b.pick(all, 2)).flat()
  t.not(firstA.join(), firstB.join())
})

t.test('a member that left is not pinged; one that joined is reached within two passes', async (t) => {
  const schedule = new ProbeSchedule(seeded(5))
  let current = members(6)
  schedule.pick(current, 2)
  current = current.filter((n) => n !== 'node3').concat('late')
  const seen = new Set<string>()
  // Two passes of 6 members at 2 a round.
  for (let round = 0; round < 6; round++) {
    for (const n of schedule.pick(current, 2)) seen.add(n)
  }
  t.notOk(seen.has('node3'), 'the member that left')
  t.ok(seen.has('late'), 'the member that joined')
  t.same([...seen].sort(), [...current].sort(), 'and every other member')
})
