import { Redis } from 'ioredis'
import t from 'tap'
import { nodesOf } from '../fixtures/cluster.js'
import { startDaemon } from '../fixtures/daemon.js'
import { daemonAddress, exchangeFrames, newIdentity, startOutsider } from '../fixtures/outsider.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// Nodes starting together: a member pins its own name in the shared store and calls a
// node whose copy of the pins is older than that pin. The call is refused, but the
// member is not kept out: its next call is answered. (It was kept out for a minute,
// its connection cut again on every redial.) An unknown peer is still kept out
// (outsider.test.ts).
const redis = await startRedis()
t.teardown(() => redis.stop())
const client = new Redis(redis.url)
t.teardown(() => client.disconnect())

t.test('a member whose pin this node had not read yet is refused once, not kept out, then answered', async (t) => {
  const late = await newIdentity()
  const latePort = await freePort()
  const daemon = await startDaemon({
    args: ['--name', 'genesis', '--redis-url', redis.url, '--set', 'redis.prefix="latepin:"', '--peer', `late=/ip4/127.0.0.1/tcp/${latePort}`],
  })
  t.teardown(() => daemon.stop('SIGTERM'))
  // The daemon has read the pins at start; "late" pins itself only now.
  t.equal(await client.hsetnx('latepin:cluster:node-peer-ids', 'late', late.peerId), 1)
  const member = await startOutsider({ key: late.key, listen: `/ip4/127.0.0.1/tcp/${latePort}` })
  t.teardown(() => member.stop())
  const genesisId = (await nodesOf(daemon)).genesis!.peer_id!
  const addr = daemonAddress(daemon.p2pAddress, genesisId)
  const call = { t: 'req', method: 'p2p.probe', params: { node: 'late' }, deadline_ms: 3000 }

  const first = await exchangeFrames(member, addr, '/aitbc/rpc/1.0.0', [call])
  t.same(first.replies, [], 'the first call, before the daemon knew the name, is refused')
  let answer: unknown[] = []
  await waitFor('a later call answered', async () => {
    answer = (await exchangeFrames(member, addr, '/aitbc/rpc/1.0.0', [call])).replies
    return answer.length > 0
  }, { timeoutMs: 5000, intervalMs: 100 })
  t.match(answer, [{ ok: true, result: { reachable: false, reason: /itself|late/ } }], 'answered as a member')
  t.notOk(daemon.logs.some((l) => /is no cluster member/.test(String(l.msg)) && l.peerId === late.peerId), 'not logged as an outsider')
  const text = await (await fetch(`${daemon.url}/metrics`)).text()
  t.notMatch(text, /aitbc_p2p_refusals_total\{reason="unknown_peer"\} [1-9]/, 'not counted as an unknown peer')
})

t.test('an unknown peer\'s burst of calls costs one read of the pins, is refused and kept out', async (t) => {
  const daemon = await startDaemon({ args: ['--name', 'genesis', '--redis-url', redis.url, '--set', 'redis.prefix="latepin2:"'] })
  t.teardown(() => daemon.stop('SIGTERM'))
  const outsider = await startOutsider()
  t.teardown(() => outsider.stop())
  const addr = daemonAddress(daemon.p2pAddress, (await nodesOf(daemon)).genesis!.peer_id!)
  const hgetalls = async () => Number(/cmdstat_hgetall:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0)
  await outsider.dial(addr)
  const before = await hgetalls()
  const call = { t: 'req', method: 'p2p.probe', params: { node: 'genesis' }, deadline_ms: 3000 }
  const burst = await Promise.all(Array.from({ length: 20 }, () => exchangeFrames(outsider, addr, '/aitbc/rpc/1.0.0', [call])))
  t.ok(burst.every((r) => r.replies.length === 0), 'no call of the burst is answered')
  await waitFor('the outsider disconnected', () => outsider.getConnections().length === 0)
  const reads = (await hgetalls()) - before
  t.ok(reads <= 4, `20 calls read the pins ${reads} times (one for the peer, beside the daemon's own reads)`)
  const again = await exchangeFrames(outsider, addr, '/aitbc/rpc/1.0.0', [call])
  t.match(again.error, /dial|refused|closed|reset|aborted|gater|deny/i, 'kept out afterwards')
})
