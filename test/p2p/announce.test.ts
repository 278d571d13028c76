import t from 'tap'
import { nodesOf, startCluster, stopCluster, waitForState } from '../fixtures/cluster.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
t.teardown(() => redis.stop())

// A slow status interval: anything seen sooner than it came from the announcement on connect.
const SLOW = ['--set', 'p2p.statusIntervalMs=6000', '--set', 'p2p.suspectAfterMs=20000', '--set', 'p2p.offlineAfterMs=30000']

t.test('a node that (re)joins is announced to every node at once, not at the next status interval', async (t) => {
  const names = ['genesis', 'follower', 'aitbc2']
  const cluster = await startCluster({ names, redisUrl: redis.url, args: [...SLOW, '--set', 'redis.prefix="announce:"'] })
  t.teardown(() => stopCluster(cluster))
  const [genesis, follower, third] = cluster as [typeof cluster[0], typeof cluster[0], typeof cluster[0]]
  for (const viewer of cluster) for (const n of names) await waitForState(viewer.daemon, n, 'online', 5000)

  await third.daemon.stop('SIGKILL', { keepData: true })
  await Promise.all([genesis, follower].map((v) => waitForState(v.daemon, 'aitbc2', 'offline', 15_000)))

  await third.restart()
  const started = Date.now()
  await Promise.all([genesis, follower].map((v) => waitForState(v.daemon, 'aitbc2', 'online', 5000)))
  await waitFor('the restarted node to see both peers', async () => {
    const v = await nodesOf(third.daemon)
    return v.genesis?.status === 'online' && v.follower?.status === 'online'
  }, { timeoutMs: 5000 })
  const took = Date.now() - started
  // Measured: about 140 ms; 2.1 s without the announcement (gossipsub's own heartbeat and peer exchange).
  t.ok(took < 1500, `online everywhere ${took} ms after the restart, with a 6000 ms status interval`)
})
