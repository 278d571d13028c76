/**
 * Coordinated operations on local daemons: `status --target all` on 5 daemons
 * and `message` end to end (POST /ops answered with the seed 000 report), and
 * git sync of 3 nodes with nothing to pull and with one new commit.
 *
 *   npm run bench:ops
 */
import { FAST_MESH, startCluster, stopCluster, waitForState } from '../test/fixtures/cluster.js'
import { api } from '../test/fixtures/daemon.js'
import { createGitFixture } from '../test/fixtures/git-repos.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { drive, fmt, percentile, printTable } from './stats.js'

const redis = await startRedis()
const repo = createGitFixture()
const names = ['genesis', 'follower', 'aitbc1', 'aitbc2', 'aitbc3']
const clones = Object.fromEntries(names.map((n) => [n, repo.clone(n)]))
const cluster = await startCluster({
  names,
  redisUrl: redis.url,
  args: [...FAST_MESH, '--log-level', 'warn', '--set', 'redis.prefix="opsbench:"'],
  nodeOptions: (name) => ({ waitReady: false, args: ['--set', `ops.gitDir=${clones[name]}`] }),
})
const genesis = cluster[0]!.daemon
for (const c of cluster) await waitForState(genesis, c.name, 'online', 30_000)

const op = async (body: Record<string, unknown>): Promise<void> => {
  const res = await api(genesis.url, 'POST', '/ops', body)
  if (res.body.validation_status !== 'success') throw new Error(JSON.stringify(res.body).slice(0, 500))
}
const rows: (string | number)[][] = []
const measure = async (name: string, count: number, body: Record<string, unknown>) => {
  await drive(20, 1, () => op(body))
  const r = await drive(count, 1, () => op(body))
  rows.push([name, count, fmt(percentile(r.latencies, 50), 2), fmt(percentile(r.latencies, 99), 2)])
}
await measure('status --target all (5 daemons, verified live)', 300, { operation: 'status', target_node: 'all' })
await measure('health --target all (5 daemons)', 100, { operation: 'health', target_node: 'all' })
await measure('message --target all (4 receipts)', 300, { operation: 'message', target_node: 'all', message: 'ping' })

const git = async (label: string, before: () => void) => {
  const times: number[] = []
  for (let i = 0; i < 10; i++) {
    before()
    const t0 = performance.now()
    await op({ operation: 'sync', target_node: 'all', sync_type: 'git' })
    times.push(performance.now() - t0)
  }
  rows.push([label, 10, fmt(percentile(times, 50), 1), fmt(percentile(times, 99), 1)])
}
await git('sync git, 5 nodes, nothing to pull', () => {})
let n = 0
await git('sync git, 5 nodes, one new commit each time', () => repo.pushCommit(`bench ${n++}`))

console.log(`seed 000 operations through POST /ops on ${names.length} local daemons (node ${process.version})`)
printTable(['operation', 'runs', 'p50 ms', 'p99 ms'], rows)
await stopCluster(cluster)
repo.remove()
await redis.stop()
process.exit(0)
