/**
 * A daemon must stay cheap as the cluster grows: BENCH_NODES (default 50)
 * aitbc-node daemons on loopback, each configured with every other as a peer,
 * beside as many Serf agents (Debian's `serf`) in the same run, default
 * settings on both sides:
 *  - convergence: the last process started -> every process lists all as online (alive);
 *  - idle CPU per process (% of a core; median and 90th percentile) and median RSS over BENCH_IDLE_S (default 30);
 *  - join: one node restarted -> every other lists it online (BENCH_TRIALS, default 3).
 *
 *   apt-get install serf && npm run bench:mesh50
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { nodesOf, startCluster, stopCluster } from '../test/fixtures/cluster.js'
import { freePort, waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { fmt, median, percentile, printTable } from './stats.js'

const N = Number(process.env.BENCH_NODES ?? 50)
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 30)
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3)
const run = promisify(execFile)

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}
const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024

async function idle(pids: number[]): Promise<{ cpu: number, cpu90: number, rss: number }> {
  const before = pids.map(cpuSeconds)
  const started = performance.now()
  await new Promise((r) => setTimeout(r, IDLE_S * 1000))
  const wall = (performance.now() - started) / 1000
  const cpu = pids.map((p, i) => ((cpuSeconds(p) - before[i]!) / wall) * 100)
  return { cpu: median(cpu), cpu90: percentile(cpu, 90), rss: median(pids.map(rssMb)) }
}

// --- Serf
interface SerfAgent { name: string, bind: string, rpc: string, child: ChildProcess }
async function startSerf(name: string, join?: string): Promise<SerfAgent> {
  const bind = `127.0.0.1:${await freePort()}`
  const rpc = `127.0.0.1:${await freePort()}`
  const child = spawn('serf', ['agent', `-node=${name}`, `-bind=${bind}`, `-rpc-addr=${rpc}`, '-log-level=err', ...(join === undefined ? [] : [`-join=${join}`])],
    { stdio: 'ignore' })
  return { name, bind, rpc, child }
}
async function serfAlive(a: SerfAgent): Promise<number> {
  const { stdout } = await run('serf', ['members', `-rpc-addr=${a.rpc}`, '-format=json'])
  return (JSON.parse(stdout) as { members: { status: string }[] }).members.filter((m) => m.status === 'alive').length
}
const serf: SerfAgent[] = []
let serfConverged = 0
let serfIdle = { cpu: 0, cpu90: 0, rss: 0 }
try {
  serf.push(await startSerf('s0'))
  await waitFor('serf s0 up', () => serfAlive(serf[0]!).then(() => true, () => false), { timeoutMs: 10_000 })
  for (let i = 1; i < N; i++) serf.push(await startSerf(`s${i}`, serf[0]!.bind))
  const serfStarted = performance.now()
  // Polled one agent at a time (a process per poll), so every 200 ms rather than every 10.
  for (const a of serf) await waitFor(`${a.name} lists ${N} alive`, async () => (await serfAlive(a).catch(() => 0)) === N, { timeoutMs: 120_000, intervalMs: 200 })
  serfConverged = performance.now() - serfStarted
  serfIdle = await idle(serf.map((a) => a.child.pid!))
} finally {
  for (const a of serf) a.child.kill('SIGKILL')
}

// --- aitbc-node
const redis = await startRedis()
const names = Array.from({ length: N }, (_, i) => `node${i}`)
const cluster = await startCluster({
  names, redisUrl: redis.url, args: ['--log-level', 'warn', '--set', 'redis.prefix="mesh50:"'], nodeOptions: () => ({ waitReady: false }),
})
const allOnline = async (i: number): Promise<boolean> => {
  const rows = await nodesOf(cluster[i]!.daemon).catch(() => ({}))
  return names.every((n) => (rows as Record<string, { status: string }>)[n]?.status === 'online')
}
const started = performance.now()
for (let i = 0; i < N; i++) await waitFor(`node${i} lists ${N} online`, () => allOnline(i), { timeoutMs: 180_000, intervalMs: 200 })
const oursConverged = performance.now() - started
const oursIdle = await idle(cluster.map((c) => c.daemon.child.pid!))
const joins: number[] = []
for (let trial = 0; trial < TRIALS; trial++) {
  const last = cluster[N - 1]!
  const others = cluster.slice(0, N - 1)
  await last.daemon.stop('SIGKILL', { keepData: true })
  await Promise.all(others.map((c) => waitFor(`${c.name} sees ${last.name} offline`,
    async () => (await nodesOf(c.daemon))[last.name]?.status === 'offline', { timeoutMs: 60_000, intervalMs: 50 })))
  const t0 = performance.now()
  await last.restart()
  await Promise.all(others.map((c) => waitFor(`${c.name} sees ${last.name} online`,
    async () => (await nodesOf(c.daemon))[last.name]?.status === 'online', { timeoutMs: 60_000, intervalMs: 50 })))
  joins.push(performance.now() - t0)
}
await stopCluster(cluster)
await redis.stop()

console.log(`${N} processes each, loopback, default settings; idle over ${IDLE_S} s; join: median of ${TRIALS}`)
printTable(['measure', 'aitbc-node', 'Serf', 'ratio (ours / Serf)'], [
  ['last process started -> every process lists all, ms', fmt(oursConverged, 0), fmt(serfConverged, 0), `${fmt(oursConverged / serfConverged, 2)}×`],
  ['idle CPU per process, median, % of a core', fmt(oursIdle.cpu, 2), fmt(serfIdle.cpu, 2), `${fmt(oursIdle.cpu / serfIdle.cpu, 2)}×`],
  ['idle CPU per process, p90, % of a core', fmt(oursIdle.cpu90, 2), fmt(serfIdle.cpu90, 2), `${fmt(oursIdle.cpu90 / serfIdle.cpu90, 2)}×`],
  ['RSS per process, median, MB', fmt(oursIdle.rss, 1), fmt(serfIdle.rss, 1), `${fmt(oursIdle.rss / serfIdle.rss, 2)}×`],
  ['a restarted node -> every other lists it online, ms', fmt(median(joins), 0), '', ''],
])
process.exit(0)
