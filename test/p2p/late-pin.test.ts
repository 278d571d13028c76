import t from 'tap'
import type { Refusal } from '../../src/p2p/index.js'
import { meshTestBed, startTestMesh } from '../fixtures/mesh.js'
import { daemonAddress, exchangeFrames, newIdentity, startOutsider } from '../fixtures/outsider.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// Nodes starting together: a member pins its own name in the shared store and calls a
// node whose copy of the pins is older than that pin. The call is refused, but the
// member is not kept out: its next call is answered. (It was kept out for a minute,
// its connection cut again on every redial.) An unknown peer is still kept out
// (outsider.test.ts). The node is an in-process mesh on real libp2p and a real Redis;
// its refusals are what the daemon logs and counts (aitbc_p2p_refusals_total).
const { client, dir } = await meshTestBed(t, 'latepin')

t.test('a member whose pin this node had not read yet is refused once, not kept out, then answered', async (t) => {
  const late = await newIdentity()
  const latePort = await freePort()
  const refusals: Refusal[] = []
  const port = await freePort()
  const genesis = await startTestMesh({
    name: 'genesis', dir, port, redis: client, prefix: 'latepin:',
    peers: [{ name: 'late', address: `/ip4/127.0.0.1/tcp/${latePort}` }],
    more: { onRefused: (r) => refusals.push(r) },
  })
  t.teardown(() => genesis.stop())
  // The node has read the pins at start; "late" pins itself only now.
  t.equal(await client.hsetnx('latepin:cluster:node-peer-ids', 'late', late.peerId), 1)
  const member = await startOutsider({ key: late.key, listen: `/ip4/127.0.0.1/tcp/${latePort}` })
  t.teardown(() => member.stop())
  const addr = daemonAddress(`/ip4/127.0.0.1/tcp/${port}`, genesis.peerId)
  const call = { t: 'req', method: 'p2p.probe', params: { node: 'late' }, deadline_ms: 3000 }

  const first = await exchangeFrames(member, addr, '/aitbc/rpc/1.0.0', [call])
  t.same(first.replies, [], 'the first call, before the node knew the name, is refused')
  let answer: unknown[] = []
  await waitFor('a later call answered', async () => {
    answer = (await exchangeFrames(member, addr, '/aitbc/rpc/1.0.0', [call])).replies
    return answer.length > 0
  }, { timeoutMs: 15_000, intervalMs: 100 })
  t.match(answer, [{ ok: true, result: { reachable: false, reason: /itself|late/ } }], 'answered as a member')
  const mine = refusals.filter((r) => r.peerId === late.peerId)
  t.notOk(mine.some((r) => /is no cluster member/.test(r.message)), 'not logged as an outsider')
  t.notOk(mine.some((r) => r.reason === 'unknown_peer'), 'not counted as an unknown peer')
})

t.test('an unknown peer\'s burst of calls costs one read of the pins, is refused and kept out', async (t) => {
  const refusals: Refusal[] = []
  const port = await freePort()
  const genesis = await startTestMesh({
    name: 'genesis', dir, port, redis: client, prefix: 'latepin2:', peers: [],
    more: { onRefused: (r) => refusals.push(r) },
  })
  t.teardown(() => genesis.stop())
  const outsider = await startOutsider()
  t.teardown(() => outsider.stop())
  const addr = daemonAddress(`/ip4/127.0.0.1/tcp/${port}`, genesis.peerId)
  const hgetalls = async () => Number(/cmdstat_hgetall:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0)
  await outsider.dial(addr)
  const before = await hgetalls()
  const call = { t: 'req', method: 'p2p.probe', params: { node: 'genesis' }, deadline_ms: 3000 }
  const burst = await Promise.all(Array.from({ length: 20 }, () => exchangeFrames(outsider, addr, '/aitbc/rpc/1.0.0', [call])))
  t.ok(burst.every((r) => r.replies.length === 0), 'no call of the burst is answered')
  await waitFor('the outsider disconnected', () => outsider.getConnections().length === 0)
  const reads = (await hgetalls()) - before
  t.ok(reads <= 4, `20 calls read the pins ${reads} times (one for the peer, beside the node's own reads)`)
  t.ok(refusals.some((r) => r.reason === 'unknown_peer' && r.peerId === outsider.peerId.toString()), 'refused as an unknown peer')
  const again = await exchangeFrames(outsider, addr, '/aitbc/rpc/1.0.0', [call])
  t.match(again.error, /dial|refused|closed|reset|aborted|gater|deny/i, 'kept out afterwards')
})
