import { type ChildProcess, spawn } from 'node:child_process'
import { cpus } from 'node:os'
import t from 'tap'
import { type ClusterNode, nodesOf, startCluster, stopCluster } from '../fixtures/cluster.js'
import type { TestDaemon } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// 15 real daemons on this machine, every one configured with every other, then a process
// spinning on every core for 30 s: the daemons get less CPU and later, and their own
// rounds and pings run late. Their local health stretches their timeouts; no daemon may
// take a live member offline meanwhile.
const N = 15
const HOG_S = 30
t.setTimeout(300_000)

const redis = await startRedis()
t.teardown(() => redis.stop())
const names = Array.from({ length: N }, (_, i) => `n${String(i).padStart(2, '0')}`)
const cluster: ClusterNode[] = await startCluster({ names, redisUrl: redis.url, args: ['--log-level', 'info', '--set', 'redis.prefix="overload:"'],
  // The 15th daemon starts beside 14 that are still handshaking, on a runner shared with other tests.
  nodeOptions: () => ({ readyTimeoutMs: 60_000 }),
})
t.teardown(() => stopCluster(cluster))

async function offlineTransitions(d: TestDaemon): Promise<number> {
  const text = await (await fetch(`${d.url}/metrics`)).text()
  return [...text.matchAll(/^aitbc_node_state_transitions_total\{[^}]*to="offline"[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0)
}
const onlineCounts = (): Promise<number[]> => Promise.all(cluster.map(async (c) => {
  const rows = await nodesOf(c.daemon).catch(() => ({}) as Record<string, { status: string }>)
  return names.filter((n) => rows[n]?.status === 'online').length
}))

t.test(`a CPU hog per core for ${HOG_S} s: no daemon takes a live member offline`, async (t) => {
  // A starting cluster of 15 on two cores takes its time; the claim is about the minute after.
  await waitFor('every daemon lists all online', async () => (await onlineCounts()).every((c) => c === N), { timeoutMs: 120_000, intervalMs: 1000 })
  const before = await Promise.all(cluster.map((c) => offlineTransitions(c.daemon)))
  const hogs: ChildProcess[] = cpus().map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }))
  t.teardown(() => {
    for (const h of hogs) h.kill('SIGKILL')
  })
  const fewest: number[] = []
  const until = Date.now() + HOG_S * 1000
  while (Date.now() < until) {
    fewest.push(Math.min(...await onlineCounts()))
    await new Promise((resolve) => setTimeout(resolve, 2000))
  }
  for (const h of hogs) h.kill('SIGKILL')
  const after = await Promise.all(cluster.map((c) => offlineTransitions(c.daemon)))
  const flips = after.map((n, i) => n - before[i]!)
  t.comment(`fewest members listed online per sample: ${fewest.join(' ')}; offline transitions per daemon: ${flips.join(' ')}`)
  t.same(flips, flips.map(() => 0), 'no daemon took a member offline under the hogs')
  const stretched = cluster.flatMap((c) => c.daemon.logs).filter((l) => /overloaded \(local health/.test(String(l.msg)))
  t.comment(`${stretched.length} daemon(s) logged that they were overloaded`)
})
