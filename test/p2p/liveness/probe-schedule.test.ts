import t from 'tap'
import { probeTargets } from '../../../src/p2p/liveness/probe-schedule.js'

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `node${i}`)

/** What every node of the cluster pings in one slot: target → the nodes pinging it. */
function slotPings(all: string[], count: number, slot: number): Map<string, string[]> {
  const by = new Map<string, string[]>()
  for (const self of all) {
    for (const target of probeTargets(self, all.filter((n) => n !== self), count, slot)) {
      by.set(target, [...(by.get(target) ?? []), self])
    }
  }
  return by
}

t.test('in every slot each member is pinged by exactly `count` other nodes', async (t) => {
  for (const [n, count] of [[10, 1], [10, 2], [7, 3], [2, 1], [50, 5]] as const) {
    const all = names(n)
    const wrong: string[] = []
    for (let slot = 0; slot < 2 * n; slot++) {
      const by = slotPings(all, count, slot)
      for (const member of all) {
        const pingers = by.get(member) ?? []
        if (pingers.length !== count || pingers.includes(member)) wrong.push(`slot ${slot}: ${member} pinged by [${pingers.join(', ')}]`)
      }
    }
    t.same(wrong, [], `${n} nodes, ${count} a round`)
  }
})

t.test('each node pings every other member once per (members - 1) / count slots', async (t) => {
  const all = names(10)
  for (const count of [1, 3]) {
    for (const self of all) {
      const seen: string[] = []
      // 9 other members: 9 slots at 1 a slot, 3 slots at 3.
      const others = all.filter((n) => n !== self)
      for (let slot = 1000; slot < 1000 + 9 / count; slot++) seen.push(...probeTargets(self, others, count, slot))
      t.same([...seen].sort(), all.filter((n) => n !== self), `${self}, ${count} a slot: each other member exactly once`)
    }
  }
})

t.test('the ring is the same whatever order a node lists its members in', async (t) => {
  const others = names(8).filter((n) => n !== 'node3')
  const shuffled = [...others].reverse()
  for (let slot = 0; slot < 10; slot++) {
    t.same(probeTargets('node3', shuffled, 2, slot), probeTargets('node3', others, 2, slot))
  }
})

t.test('no members, fewer members than the count, a count of zero', async (t) => {
  t.same(probeTargets('a', [], 2, 5), [], 'alone: nobody')
  t.same(probeTargets('a', ['b', 'c'], 5, 5).sort(), ['b', 'c'], 'fewer members than the count: all of them')
  t.same(probeTargets('a', ['b', 'c'], 0, 5), [], 'a count of zero: nobody')
  t.same(probeTargets('a', ['a', 'b'], 1, 3), ['b'], 'itself listed among the members is not pinged')
})

t.test('a member that joined is in the ring at once; one that left is not pinged', async (t) => {
  const before = ['node1', 'node2', 'node3']
  const after = ['node1', 'node3', 'late']
  const seen = new Set<string>()
  for (let slot = 0; slot < 3; slot++) for (const n of probeTargets('node0', after, 1, slot)) seen.add(n)
  t.same([...seen].sort(), ['late', 'node1', 'node3'], 'within one pass of the new ring')
  t.notOk([0, 1, 2].some((slot) => probeTargets('node0', after, 1, slot).includes('node2')), 'the member that left')
  t.ok([0, 1, 2].some((slot) => probeTargets('node0', before, 1, slot).includes('node2')), 'was pinged before it left')
})

t.test('negative and huge slots (clocks far apart) stay in range', async (t) => {
  const all = names(5)
  for (const slot of [-7, -1, 0, Number.MAX_SAFE_INTEGER / 100, 4_500_000_000]) {
    const picked = probeTargets('node2', all, 2, slot)
    t.equal(picked.length, 2, `slot ${slot}`)
    t.equal(new Set(picked).size, 2, 'distinct')
    t.notOk(picked.includes('node2'))
  }
})
