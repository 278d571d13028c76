/**
 * Ten aitbc-node daemons beside ten Serf agents (Debian's `serf`), on
 * loopback, in one run, default settings on both sides:
 *  - idle CPU (% of a core) and RSS per process over BENCH_IDLE_S seconds (default 30);
 *  - join: the 10th node starts -> every other node lists it (ours: online in
 *    GET /nodes after a restart with the same identity; Serf: alive in `serf members`);
 *  - hung node: SIGSTOP -> every other node lists it offline (Serf: failed);
 *  - killed node with peers configured through one seed only (as Serf always joins):
 *    SIGKILL -> every other node lists it offline (Serf: failed); ours on a second
 *    cluster whose nodes name only node0 as their peer.
 * Each timed measure is repeated BENCH_TRIALS times (default 3); medians printed.
 *
 *   apt-get install serf && npm run bench:serf
 */
import { nodesOf, stopCluster, waitForState } from '../test/fixtures/cluster.js'
import { startDaemon, type TestDaemon } from '../test/fixtures/daemon.js'
import { waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { startBenchMesh } from './bench-mesh.js'
import { idle as idleOf } from './idle.js'
import { type SerfAgent, serfMembers, spawnSerf } from './serf-agents.js'
import { fmt, median, printTable } from './stats.js'

const N = 10
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 30)
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3)
/** Trials run first and not counted (caches, JIT, the first dials). */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1)
const keep = (list: number[], trial: number, ms: number): void => {
  if (trial >= WARMUP) list.push(ms)
}
/** Median idle CPU (% of a core) and RSS (MB) of the processes over IDLE_S seconds. */
const idle = (pids: number[]) => idleOf(pids, IDLE_S)

// --- Serf
async function startSerf(name: string, join?: string): Promise<SerfAgent> {
  const agent = await spawnSerf(name, join)
  await waitFor(`serf ${name} up`, () => serfMembers(agent).then(() => true, () => false), { timeoutMs: 10_000 })
  return agent
}
const serfSees = (viewers: SerfAgent[], name: string, status: string, timeoutMs = 30_000) =>
  Promise.all(viewers.map((v) => waitFor(`${v.name} sees ${name} ${status}`, async () => (await serfMembers(v))[name] === status, { timeoutMs, intervalMs: 10 })))

const serf: SerfAgent[] = [await startSerf('s0')]
for (let i = 1; i < N; i++) serf.push(await startSerf(`s${i}`, serf[0]!.bind))
await serfSees(serf, `s${N - 1}`, 'alive')
const serfIdle = await idle(serf.map((a) => a.child.pid!))
const serfJoin: number[] = []
const serfHung: number[] = []
const serfKilled: number[] = []
for (let trial = 0; trial < WARMUP + TRIALS; trial++) {
  const last = serf.pop()!
  const killedAt = performance.now()
  last.child.kill('SIGKILL')
  await serfSees(serf, last.name, 'failed')
  keep(serfKilled, trial, performance.now() - killedAt)
  // A new agent under a new name each time (a failed member's name is held by Serf for a while).
  const started = performance.now()
  const joined = await startSerf(`s${N - 1}-${trial}`, serf[0]!.bind)
  await serfSees(serf, joined.name, 'alive')
  keep(serfJoin, trial, performance.now() - started)
  serf.push(joined)

  const victim = serf[1 + trial]!
  const t0 = performance.now()
  victim.child.kill('SIGSTOP')
  await serfSees(serf.filter((a) => a !== victim), victim.name, 'failed')
  keep(serfHung, trial, performance.now() - t0)
  victim.child.kill('SIGCONT')
  await serfSees(serf.filter((a) => a !== victim), victim.name, 'alive')
}
for (const a of serf) a.child.kill('SIGKILL')

// --- aitbc-node
const redis = await startRedis()
const cluster = await startBenchMesh(N, redis.url, 'serfbench:')
const oursIdle = await idle(cluster.map((c) => c.daemon.child.pid!))
const oursJoin: number[] = []
const oursHung: number[] = []
for (let trial = 0; trial < WARMUP + TRIALS; trial++) {
  const last = cluster[N - 1]!
  const others = cluster.slice(0, N - 1)
  await last.daemon.stop('SIGKILL', { keepData: true })
  await Promise.all(others.map((c) => waitForState(c.daemon, last.name, 'offline', 30_000)))
  const started = performance.now()
  await last.restart()
  await Promise.all(others.map((c) => waitFor(`${c.name} sees ${last.name} online`,
    async () => (await nodesOf(c.daemon))[last.name]?.status === 'online', { timeoutMs: 30_000, intervalMs: 10 })))
  keep(oursJoin, trial, performance.now() - started)

  const victim = cluster[1 + trial]!
  const watchers = cluster.filter((c) => c !== victim)
  const t0 = performance.now()
  victim.daemon.child.kill('SIGSTOP')
  await Promise.all(watchers.map((c) => waitFor(`${c.name} sees ${victim.name} offline`,
    async () => (await nodesOf(c.daemon))[victim.name]?.status === 'offline', { timeoutMs: 30_000, intervalMs: 10 })))
  keep(oursHung, trial, performance.now() - t0)
  victim.daemon.child.kill('SIGCONT')
  await Promise.all(watchers.map((c) => waitForState(c.daemon, victim.name, 'online', 30_000)))
}
await stopCluster(cluster)

// One seed: node0 is every other node's only configured peer.
const sees = (viewers: TestDaemon[], name: string, status: string) => Promise.all(viewers.map((v) => waitFor(`${v.url} sees ${name} ${status}`,
  async () => (await nodesOf(v))[name]?.status === status, { timeoutMs: 30_000, intervalMs: 10 })))
const seedArgs = ['--redis-url', redis.url, '--set', 'redis.prefix="serfbench1:"']
const seeded: TestDaemon[] = [await startDaemon({ args: ['--name', 'node0', ...seedArgs] })]
const leafArgs = (i: number) => ['--name', `node${i}`, '--peer', `node0=${seeded[0]!.p2pAddress}`, ...seedArgs]
for (let i = 1; i < N; i++) seeded.push(await startDaemon({ args: leafArgs(i) }))
for (const viewer of seeded) for (const n of cluster.map((c) => c.name)) await waitForState(viewer, n, 'online', 30_000)
const oursKilled: number[] = []
for (let trial = 0; trial < WARMUP + TRIALS; trial++) {
  const i = N - 1
  const victim = seeded[i]!
  const killedAt = performance.now()
  await victim.stop('SIGKILL', { keepData: true })
  await sees(seeded.filter((d) => d !== victim), `node${i}`, 'offline')
  keep(oursKilled, trial, performance.now() - killedAt)
  seeded[i] = await startDaemon({ dataDir: victim.dataDir, args: leafArgs(i) })
  await sees(seeded.filter((d) => d !== seeded[i]), `node${i}`, 'online')
}
await Promise.all(seeded.map((d) => d.stop('SIGTERM')))
await redis.stop()

const ratio = (a: number, b: number) => `${fmt(a / b, 2)}×`
console.log(`${N} processes each, loopback, default settings; idle over ${IDLE_S} s, ${TRIALS} trials of each timed measure after ${WARMUP} warm-up (medians)`)
printTable(['measure', 'aitbc-node', 'Serf', 'ratio (ours / Serf)', 'target'], [
  ['idle CPU per process, % of a core', fmt(oursIdle.cpu, 2), fmt(serfIdle.cpu, 2), ratio(oursIdle.cpu, serfIdle.cpu), '≤ 3×'],
  ['RSS per process, MB', fmt(oursIdle.rss, 1), fmt(serfIdle.rss, 1), ratio(oursIdle.rss, serfIdle.rss), '≤ 70 MB'],
  ['10th node starts -> every node lists it, ms', fmt(median(oursJoin), 0), fmt(median(serfJoin), 0), ratio(median(oursJoin), median(serfJoin)), '≤ Serf'],
  ['SIGSTOP -> offline (failed) everywhere, ms', fmt(median(oursHung), 0), fmt(median(serfHung), 0), ratio(median(oursHung), median(serfHung)), '≤ 2000 ms'],
  ['one seed: SIGKILL -> offline (failed) everywhere, ms', fmt(median(oursKilled), 0), fmt(median(serfKilled), 0),
    ratio(median(oursKilled), median(serfKilled)), '≤ 2000 ms'],
])
process.exit(0)
