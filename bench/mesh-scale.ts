/**
 * Ten daemons on loopback with default mesh settings (1 s status interval,
 * degraded after 3 s, offline after 5 s):
 *  - how long a status change (a new chain height) takes to reach every node;
 *  - how long until a SIGKILLed node is offline in every other node's view.
 *
 *   npm run bench:mesh
 */
import { startChainStandIn } from '../test/fixtures/chain-rpc.js'
import { nodesOf, startCluster, stopCluster, waitForState } from '../test/fixtures/cluster.js'
import { waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { fmt, percentile, printTable } from './stats.js'

const N = 10
const CHANGE_TRIALS = 30
const KILL_TRIALS = 6

const redis = await startRedis()
const chains = await Promise.all(Array.from({ length: N }, () => startChainStandIn({ height: 1000 })))
const names = Array.from({ length: N }, (_, i) => `node${i}`)
const cluster = await startCluster({
  names,
  redisUrl: redis.url,
  args: ['--log-level', 'warn', '--set', 'redis.prefix="scale:"'],
  nodeOptions: (_n, i) => ({ env: { BLOCKCHAIN_RPC_URL: chains[i]!.url }, waitReady: false }),
})
for (const c of cluster) await waitFor(`${c.name} up`, () => fetch(`${c.daemon.url}/health`).then((r) => r.ok), { timeoutMs: 30_000 })
for (const viewer of cluster) for (const n of names) await waitForState(viewer.daemon, n, 'online', 30_000)
console.log(`${N} daemons online in every view`)

// Status change: bump node0's chain height, wait until all nine others show it.
const change: number[] = []
for (let trial = 0; trial < CHANGE_TRIALS; trial++) {
  const height = 2000 + trial
  const started = performance.now()
  chains[0]!.state.height = height
  await Promise.all(cluster.slice(1).map((c) =>
    waitFor('height', async () => (await nodesOf(c.daemon)).node0?.block_height === height, { timeoutMs: 10_000, intervalMs: 20 })))
  change.push(performance.now() - started)
  // Land the next change at a different point of the poll/publish cycle.
  await new Promise((r) => setTimeout(r, 137 * (trial % 7)))
}

// Kill: SIGKILL one node, wait until all others show it offline; restart it.
const kill: number[] = []
for (let trial = 0; trial < KILL_TRIALS; trial++) {
  const victim = cluster[1 + (trial % (N - 1))]!
  const others = cluster.filter((c) => c !== victim)
  const started = performance.now()
  await victim.daemon.stop('SIGKILL', { keepData: true })
  await Promise.all(others.map((c) => waitForState(c.daemon, victim.name, 'offline', 20_000)))
  kill.push(performance.now() - started)
  await victim.restart()
  await Promise.all(others.map((c) => waitForState(c.daemon, victim.name, 'online', 30_000)))
}

console.log(`mesh of ${N} daemons, default settings (statusIntervalMs 1000, suspectAfterMs 3000, offlineAfterMs 5000)`)
printTable(['measure', 'trials', 'p50 ms', 'p99 ms', 'max ms'], [
  ['status change reaches all nodes', CHANGE_TRIALS, fmt(percentile(change, 50), 0), fmt(percentile(change, 99), 0), fmt(Math.max(...change), 0)],
  ['SIGKILLed node offline everywhere', KILL_TRIALS, fmt(percentile(kill, 50), 0), fmt(percentile(kill, 99), 0), fmt(Math.max(...kill), 0)],
])

await stopCluster(cluster)
await Promise.all(chains.map((c) => c.close()))
await redis.stop()
process.exit(0)
