import t from 'tap'
import { nodesOf, waitForState } from '../fixtures/cluster.js'
import { startDaemon, type TestDaemon } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// Peers configured through one seed only, default timings (offlineAfterMs 12 s): the leaves
// hold no connection to each other, so they hear of a leaf's death from the seed's status
// ("lost"), at once, instead of waiting out offlineAfterMs.
const redis = await startRedis()
t.teardown(() => redis.stop())
const common = ['--redis-url', redis.url, '--set', 'redis.prefix="seed1:"']
const seed = await startDaemon({ args: ['--name', 'seed', ...common] })
t.teardown(() => seed.stop())
const leaves: TestDaemon[] = []
for (const name of ['leaf1', 'leaf2', 'leaf3']) {
  const d = await startDaemon({ args: ['--name', name, '--peer', `seed=${seed.p2pAddress}`, ...common] })
  t.teardown(() => d.stop())
  leaves.push(d)
}
const [leaf1, leaf2, leaf3] = leaves as [TestDaemon, TestDaemon, TestDaemon]
const everyone = ['seed', 'leaf1', 'leaf2', 'leaf3']
for (const viewer of [seed, ...leaves]) for (const n of everyone) await waitForState(viewer, n, 'online', 20_000)

t.test('the leaves are connected to the seed only', async (t) => {
  const view = await nodesOf(leaf1)
  t.same(view.leaf1?.links, ['seed'], 'leaf1 holds one connection, to the seed')
  // A change of links alone is published with the next short keepalive (3 s), not at once.
  const seen = await waitFor('leaf1 hears the seed\'s links to all three', async () => {
    const links = (await nodesOf(leaf1)).seed?.links as string[] | null | undefined
    return links?.length === 3 ? links : undefined
  }, { timeoutMs: 10_000 })
  t.same(seen, ['leaf1', 'leaf2', 'leaf3'], 'the seed holds all three')
})

t.test('a SIGSTOPped leaf is offline on the other leaves within the bound, through the seed\'s report', async (t) => {
  process.kill(leaf2.child.pid!, 'SIGSTOP')
  const at = Date.now()
  t.teardown(() => {
    process.kill(leaf2.child.pid!, 'SIGCONT')
  })
  const row = await waitForState(leaf1, 'leaf2', 'offline', 6000)
  const ms = Date.now() - at
  t.comment(`offline on leaf1 ${ms} ms after SIGSTOP`)
  t.ok(ms < 4000, `offline on a leaf with no connection to it in ${ms} ms (offlineAfterMs is 12000)`)
  t.match(row.reason, /reported lost by seed/, 'the reason names the node that found it gone')
  process.kill(leaf2.child.pid!, 'SIGCONT')
  await waitForState(leaf1, 'leaf2', 'online', 15_000)
  t.pass('back online once it runs again')
})

t.test('a SIGKILLed leaf is offline on the other leaves at once, and back when it restarts', async (t) => {
  await waitForState(leaf1, 'leaf3', 'online', 10_000)
  await leaf3.stop('SIGKILL', { keepData: true })
  const at = Date.now()
  const [a, b] = await Promise.all([waitForState(leaf1, 'leaf3', 'offline', 6000), waitForState(leaf2, 'leaf3', 'offline', 6000)])
  const ms = Date.now() - at
  t.comment(`offline on both leaves ${ms} ms after SIGKILL`)
  t.ok(ms < 3000, `offline everywhere in ${ms} ms (offlineAfterMs is 12000)`)
  t.match(a.reason, /reported lost by seed/)
  t.match(b.reason, /reported lost by seed/)
  t.match((await nodesOf(seed)).leaf3?.reason, /connection closed/, 'the seed saw its connection close')

  const again = await startDaemon({ dataDir: leaf3.dataDir, args: ['--name', 'leaf3', '--peer', `seed=${seed.p2pAddress}`, ...common] })
  t.teardown(() => again.stop())
  await Promise.all([waitForState(leaf1, 'leaf3', 'online', 15_000), waitForState(leaf2, 'leaf3', 'online', 15_000)])
  t.pass('restarted: online on both leaves again, the seed\'s old report notwithstanding')
})
