/**
 * A daemon must stay cheap as the cluster grows: BENCH_NODES (default 50)
 * aitbc-node daemons on loopback, each configured with every other as a peer,
 * beside as many Serf agents (Debian's `serf`) in the same run, default
 * settings on both sides:
 *  - convergence: the last process started -> every process lists all as online (alive);
 *  - idle CPU per process (% of a core; median and 90th percentile) and median RSS over BENCH_IDLE_S (default 60),
 *    and how many times a daemon took a member offline in that time (the target: none);
 *  - join: one node restarted -> every other lists it online (BENCH_TRIALS, default 3).
 *
 *   apt-get install serf && npm run bench:mesh50
 */
import { nodesOf, startCluster, stopCluster } from '../test/fixtures/cluster.js'
import { waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { idle as idleOf } from './idle.js'
import { type SerfAgent, serfMembers, spawnSerf } from './serf-agents.js'
import { fmt, median, printTable } from './stats.js'

const N = Number(process.env.BENCH_NODES ?? 50)
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 60)
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3)
/** How long the daemons get to list each other online before the run reports what they do list. */
const CONVERGE_S = Number(process.env.BENCH_CONVERGE_S ?? 180)
const idle = (pids: number[]) => idleOf(pids, IDLE_S)
const serfAlive = async (a: SerfAgent): Promise<number> => Object.values(await serfMembers(a)).filter((s) => s === 'alive').length

const serf: SerfAgent[] = []
let serfConverged = 0
let serfCounts: number[] = []
let serfIdle = { cpu: 0, cpu90: 0, rss: 0, exited: 0 }
try {
  serf.push(await spawnSerf('s0'))
  await waitFor('serf s0 up', () => serfAlive(serf[0]!).then(() => true, () => false), { timeoutMs: 10_000 })
  for (let i = 1; i < N; i++) serf.push(await spawnSerf(`s${i}`, serf[0]!.bind))
  const serfStarted = performance.now()
  // Polled one agent at a time (a process per poll), so about every 200 ms rather than every 10.
  const serfDeadline = serfStarted + CONVERGE_S * 1000
  const serfCount = async (): Promise<number[]> => {
    const counts: number[] = []
    for (const a of serf) counts.push(await serfAlive(a).catch(() => 0))
    return counts
  }
  serfCounts = await serfCount()
  while (serfCounts.some((c) => c < N) && performance.now() < serfDeadline) {
    await new Promise((r) => setTimeout(r, 200))
    serfCounts = await serfCount()
  }
  serfConverged = performance.now() - serfStarted
  serfIdle = await idle(serf.map((a) => a.child.pid!))
} finally {
  for (const a of serf) a.child.kill('SIGKILL')
}

// --- aitbc-node
const redis = await startRedis()
const names = Array.from({ length: N }, (_, i) => `node${i}`)
const cluster = await startCluster({
  names,
  redisUrl: redis.url,
  // BENCH_ARGS: daemon settings for the run, e.g. a lower interval budget.
  args: ['--log-level', 'warn', '--set', 'redis.prefix="mesh50:"', ...(process.env.BENCH_ARGS?.split(' ').filter(Boolean) ?? [])],
  nodeOptions: () => ({ waitReady: false }),
})
/** How many nodes each daemon lists online (0 while it does not answer). */
const onlineCounts = (): Promise<number[]> => Promise.all(cluster.map(async (c) => {
  const rows = await nodesOf(c.daemon).catch(() => ({}) as Record<string, { status: string }>)
  return names.filter((n) => rows[n]?.status === 'online').length
}))
const started = performance.now()
const deadline = started + CONVERGE_S * 1000
let counts = await onlineCounts()
while (counts.some((c) => c < N) && performance.now() < deadline) {
  await new Promise((r) => setTimeout(r, 1000))
  counts = await onlineCounts()
}
const converged = counts.every((c) => c === N)
const oursConverged = performance.now() - started
/** Transitions to offline each daemon counted so far (one scrape each: the idle period is left alone). */
const offlineTransitions = (): Promise<number[]> => Promise.all(cluster.map(async (c) => {
  const text = await fetch(`${c.daemon.url}/metrics`).then((r) => r.text(), () => '')
  return [...text.matchAll(/^aitbc_node_state_transitions_total\{[^}]*to="offline"[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0)
}))
const offlineBefore = await offlineTransitions()
const oursIdle = await idle(cluster.map((c) => c.daemon.child.pid!))
const offlineDuringIdle = (await offlineTransitions()).reduce((n, after, i) => n + after - offlineBefore[i]!, 0)
const afterIdle = await onlineCounts()
// A daemon that exited says why: its exit, its last errors logged and the end of its stderr.
const exits = cluster.filter((c) => c.daemon.child.exitCode !== null || c.daemon.child.signalCode !== null).map((c) =>
  `${c.name} exited (code ${c.daemon.child.exitCode}, signal ${c.daemon.child.signalCode}):\n${[
    ...c.daemon.logs.filter((l) => Number(l.level) >= 50).slice(-3).map((l) => `log: ${String(l.msg)}`),
    ...c.daemon.stderr().trim().split('\n').slice(-8),
  ].join('\n')}`)
const joins: number[] = []
/** A join that did not finish within its minute: what was waited for, reported instead of the figure. */
let joinFailed: string | null = null
for (let trial = 0; trial < (converged ? TRIALS : 0) && joinFailed === null; trial++) {
  const last = cluster[N - 1]!
  const others = cluster.slice(0, N - 1)
  try {
    await last.daemon.stop('SIGKILL', { keepData: true })
    await Promise.all(others.map((c) => waitFor(`${c.name} sees ${last.name} offline`,
      async () => (await nodesOf(c.daemon))[last.name]?.status === 'offline', { timeoutMs: 60_000, intervalMs: 50 })))
    const t0 = performance.now()
    await last.restart()
    await Promise.all(others.map((c) => waitFor(`${c.name} sees ${last.name} online`,
      async () => (await nodesOf(c.daemon))[last.name]?.status === 'online', { timeoutMs: 60_000, intervalMs: 50 })))
    joins.push(performance.now() - t0)
  } catch (err) {
    joinFailed = (err as Error).message
  }
}
await stopCluster(cluster)
await redis.stop()

console.log(`${N} processes each, loopback, ${process.env.BENCH_ARGS ? `aitbc-node with ${process.env.BENCH_ARGS}` : 'default settings'}; idle over ${IDLE_S} s; join: median of ${TRIALS}`)
printTable(['measure', 'aitbc-node', 'Serf', 'ratio (ours / Serf)'], [
  converged && serfCounts.every((c) => c === N)
    ? ['last process started -> every process lists all, ms', fmt(oursConverged, 0), fmt(serfConverged, 0), `${fmt(oursConverged / serfConverged, 2)}×`]
    : [`every process lists all within ${CONVERGE_S} s? else listed online (alive) per process, median (min)`,
        converged ? `${fmt(oursConverged, 0)} ms` : `no: ${median(counts)} (${Math.min(...counts)}) of ${N}`,
        serfCounts.every((c) => c === N) ? `${fmt(serfConverged, 0)} ms` : `no: ${median(serfCounts)} (${Math.min(...serfCounts)}) of ${N}`, ''],
  ['after the idle period: nodes listed online per daemon, median (min)', `${median(afterIdle)} (${Math.min(...afterIdle)})`, '', ''],
  [`members taken offline during the ${IDLE_S} s idle period, all daemons`, String(offlineDuringIdle), '', ''],
  ['idle CPU per process, median, % of a core', fmt(oursIdle.cpu, 2), fmt(serfIdle.cpu, 2), `${fmt(oursIdle.cpu / serfIdle.cpu, 2)}×`],
  ['idle CPU per process, p90, % of a core', fmt(oursIdle.cpu90, 2), fmt(serfIdle.cpu90, 2), `${fmt(oursIdle.cpu90 / serfIdle.cpu90, 2)}×`],
  ['RSS per process, median, MB', fmt(oursIdle.rss, 1), fmt(serfIdle.rss, 1), `${fmt(oursIdle.rss / serfIdle.rss, 2)}×`],
  ['processes that exited during the idle period', String(oursIdle.exited), String(serfIdle.exited), ''],
  ['a restarted node -> every other lists it online, ms',
    joinFailed !== null ? `not within 60 s (${joinFailed.slice(0, 60)})` : joins.length === 0 ? 'not run (not converged)' : fmt(median(joins), 0), '', ''],
])
for (const exit of exits) console.log(`\n${exit}`)
process.exit(0)
