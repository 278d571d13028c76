import t from 'tap'
import { FAST_MESH, nodesOf, startCluster, stopCluster, waitForState } from '../fixtures/cluster.js'
import { api } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
t.teardown(() => redis.stop())

const names = ['genesis', 'follower', 'aitbc2']
const cluster = await startCluster({ names, redisUrl: redis.url, args: [...FAST_MESH, '--set', 'redis.prefix="mesh:"'] })
t.teardown(() => stopCluster(cluster))
const [genesis, follower, third] = cluster as [typeof cluster[0], typeof cluster[0], typeof cluster[0]]

t.test('every daemon sees all three nodes online within a few status intervals', async (t) => {
  for (const viewer of cluster) {
    for (const n of names) await waitForState(viewer.daemon, n, 'online', 5000)
  }
  const view = await nodesOf(genesis.daemon)
  t.same(Object.keys(view).sort(), [...names].sort(), 'exactly the three nodes')
  t.equal(view.genesis?.self, true, 'its own row is marked self')
  t.match(view.follower, {
    status: 'online',
    block_height: null,
    mempool_size: null,
    p2p_connections: 2,
    service_uptime: String,
    peer_id: /^12D3KooW/,
    version: String,
    last_seen_ms: Number,
    registry_mismatch: null,
  })
  // The mesh picture: each node says whom it holds connections to.
  await waitFor('every node lists the other two as its links', async () => {
    const v = await nodesOf(genesis.daemon)
    return names.every((n) => JSON.stringify(v[n]?.links) === JSON.stringify(names.filter((m) => m !== n).sort()))
  }, { timeoutMs: 15_000 })
  t.same((await nodesOf(genesis.daemon)).genesis?.links, ['aitbc2', 'follower'], 'its own links, by name, sorted')
})

t.test('the CLI prints the view as a table', async (t) => {
  const { execFile } = await import('node:child_process')
  const { promisify } = await import('node:util')
  const { BIN } = await import('../fixtures/daemon.js')
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, '--url', genesis.daemon.url, 'nodes'])
  const lines = stdout.trim().split('\n')
  t.match(lines[0], /^NODE\s+STATUS\s+HEIGHT\s+MEMPOOL\s+PEERS/)
  t.match(stdout, /genesis \*\s+online/)
  t.match(stdout, /follower\s+online/)
  t.match(stdout, /aitbc2\s+online/)
})

t.test('a SIGKILLed node is offline everywhere within offlineAfterMs plus an interval, and back with the same peer id', async (t) => {
  await waitForState(genesis.daemon, 'aitbc2', 'online', 5000)
  const before = (await nodesOf(genesis.daemon)).aitbc2?.peer_id
  t.match(before, /^12D3KooW/)

  await third.daemon.stop('SIGKILL', { keepData: true })
  // offlineAfterMs 1000 + one 200 ms interval, plus polling slack on a loaded 2-core machine.
  await Promise.all([
    waitForState(genesis.daemon, 'aitbc2', 'offline', 1200 + 1500),
    waitForState(follower.daemon, 'aitbc2', 'offline', 1200 + 1500),
  ])
  const row = (await nodesOf(genesis.daemon)).aitbc2
  t.match(row?.reason, /^connection lost and redial failed: .+|^unheard for \d+ ms/s, 'the reason says why')
  t.equal(row?.peer_id, before, 'the offline row keeps the last known peer id')
  const health = (await api(genesis.daemon.url, 'GET', '/health')).body as { status: string, warnings: string[] }
  t.equal(health.status, 'degraded', '/health says the cluster is degraded (still 200: the API works)')
  t.match(health.warnings, [/^node aitbc2 is offline/], 'and names the offline peer')

  await third.restart()
  await Promise.all([
    waitForState(genesis.daemon, 'aitbc2', 'online', 10_000),
    waitForState(follower.daemon, 'aitbc2', 'online', 10_000),
  ])
  t.equal((await nodesOf(follower.daemon)).aitbc2?.peer_id, before, 'same peer id after the restart (key kept in the data dir)')
  await waitFor('aitbc2 sees both peers', async () => {
    const v = await nodesOf(third.daemon)
    return v.genesis?.status === 'online' && v.follower?.status === 'online'
  }, { timeoutMs: 10_000 })
})

t.test('transitions are logged and counted in /metrics', async (t) => {
  const line = genesis.daemon.logs.find((l) => l.msg === 'node aitbc2 is offline' || String(l.msg).startsWith('node aitbc2 is offline'))
  t.ok(line, 'offline transition logged by name')
  t.match(line, { node: 'aitbc2', to: 'offline' })
  const res = await fetch(`${genesis.daemon.url}/metrics`)
  const text = await res.text()
  t.match(text, /aitbc_node_state_transitions_total\{node="aitbc2",to="offline"\} [1-9]/)
  t.match(text, /aitbc_node_state_transitions_total\{node="aitbc2",to="online"\} [2-9]/)
  t.match(text, /aitbc_nodes\{state="online"\} 3/)
})
