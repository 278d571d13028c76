import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { FAST_MESH, nodesOf, startCluster, stopCluster, waitForState } from '../fixtures/cluster.js'
import { api, type TestDaemon } from '../fixtures/daemon.js'
import { canUseNetns, createNetwork } from '../fixtures/netns.js'
import { writePskFile } from '../fixtures/psk.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

/** How long the partition lasts. */
const CUT_MS = 120_000

if (!canUseNetns()) {
  t.test('network partitions', {
    skip: 'SKIPPED: partition tests need root and iproute2 to create Linux network namespaces; run the suite as root to include them',
  }, () => {})
} else {
  await partitionTests()
}

async function partitionTests(): Promise<void> {
  // A 120 s cut, the healing and the deliveries after it take longer than the suite's 180 s per file.
  t.setTimeout(360_000)
  // The daemons live in their own network namespaces; Redis is reached over a
  // unix socket, which namespaces do not isolate.
  const sockRedis = await startRedisOnSocket()
  t.teardown(() => sockRedis.stop())

  const net = createNetwork(3)
  t.teardown(() => net.destroy())
  const names = ['genesis', 'follower', 'island']
  // Off loopback the mesh needs a key (or an allowlist): the daemons refuse to start an open one.
  const psk = writePskFile()
  const cluster = await startCluster({
    names,
    redisUrl: sockRedis.url,
    args: [...FAST_MESH, '--set', 'redis.prefix="part:"', '--set', 'auth.anonymous=true'],
    nodeOptions: (_name, i) => ({
      wrap: ['ip', 'netns', 'exec', net.nodes[i]!.ns],
      env: { AITBC_P2P_PSK_FILE: psk },
      host: net.nodes[i]!.controlIp,
      p2pHost: net.nodes[i]!.meshIp,
    }),
  })
  t.teardown(() => stopCluster(cluster))
  const [genesis, follower, island] = cluster.map((c) => c.daemon) as [TestDaemon, TestDaemon, TestDaemon]
  for (const viewer of [genesis, follower, island]) for (const n of names) await waitForState(viewer, n, 'online', 15_000)

  t.test('a 120 s cut marks the node offline on both sides; after healing all reconnect within 15 s and nothing sent during the cut is lost or doubled', async (t) => {
    const cutAt = Date.now()
    net.cut(2)
    await Promise.all([
      waitForState(genesis, 'island', 'offline', 5000),
      waitForState(follower, 'island', 'offline', 5000),
      waitForState(island, 'genesis', 'offline', 5000),
      waitForState(island, 'follower', 'offline', 5000),
    ])
    t.pass('offline on both sides of the cut')
    t.equal((await nodesOf(genesis)).follower?.status, 'online', 'the uncut nodes still see each other')

    const toIsland: string[] = []
    const fromIsland: string[] = []
    const send = async (from: TestDaemon, to: string, body: string, into: string[]) => {
      const res = await api(from.url, 'POST', '/messages', { to, body, wait_ms: 0, ttl_ms: 300_000 })
      if (res.status !== 202) throw new Error(`send failed: ${res.status} ${JSON.stringify(res.body)}`)
      into.push(String(res.body.message_id))
    }
    // Keep sending across the cut, from both sides, until 120 s have passed: each message is
    // retried with backoff (up to 5 s apart) all that time, and the redialer keeps failing.
    let i = 0
    while (Date.now() - cutAt < CUT_MS && i < 120) {
      await send(genesis, 'island', `g${i}`, toIsland)
      await send(island, 'genesis', `i${i}`, fromIsland)
      i++
      await new Promise((r) => setTimeout(r, 1000))
    }
    await waitFor(`the cut to last ${CUT_MS / 1000} s`, () => Date.now() - cutAt >= CUT_MS, { timeoutMs: CUT_MS + 5000, intervalMs: 200 })
    const midCut = await api(genesis.url, 'GET', `/messages/${toIsland[0]}`)
    t.match(midCut.body.message_delivery, { delivered: 0, queued: 1 }, 'nothing crossed the cut')

    const healedAt = Date.now()
    net.heal(2)
    await Promise.all([
      waitForState(genesis, 'island', 'online', 15_000),
      waitForState(follower, 'island', 'online', 15_000),
      waitForState(island, 'genesis', 'online', 15_000),
      waitForState(island, 'follower', 'online', 15_000),
    ])
    t.comment(`reconnected ${Date.now() - healedAt} ms after healing`)
    for (const d of [genesis, follower, island]) {
      await waitFor('connections held again', async () =>
        ((await api(d.url, 'GET', '/health')).body.checks as { mesh: { connected_peers: number } }).mesh.connected_peers === 2,
      { timeoutMs: 15_000 })
    }

    for (const [from, ids, to] of [[genesis, toIsland, island], [island, fromIsland, genesis]] as const) {
      for (const id of ids) {
        await waitFor(`delivery of ${id}`, async () =>
          ((await api(from.url, 'GET', `/messages/${id}`)).body.message_delivery as { delivered: number }).delivered === 1,
        { timeoutMs: 30_000 })
      }
      const inbox = (await api(to.url, 'GET', '/messages/inbox?limit=1000')).body.messages as { id: string }[]
      const got = inbox.map((m) => m.id).filter((id) => ids.includes(id))
      t.equal(got.length, ids.length, `${ids.length} sent during the cut, ${got.length} received: 0 lost`)
      t.equal(new Set(got).size, got.length, '0 duplicated')
    }
  })
}

async function startRedisOnSocket() {
  const dir = mkdtempSync(join(tmpdir(), 'aitbc-sock-'))
  const sock = join(dir, 'redis.sock')
  const redis = await startRedis({ extraArgs: ['--unixsocket', sock, '--unixsocketperm', '700'] })
  return { url: `unix://${sock}`, stop: () => redis.stop() }
}
