/**
 * False offlines on a loaded machine: ten aitbc-node daemons beside ten Serf
 * agents (Debian's `serf`), all up for BENCH_SOAK_S seconds (default 600)
 * while BENCH_LOAD busy processes (default: one per core) keep every core
 * busy. No node stops, so every offline is false:
 *  - ours: transitions to offline (and to degraded) in every daemon's view,
 *    from aitbc_node_state_transitions_total at the start and the end;
 *  - Serf: member-failed events at every agent (an event handler counts them).
 *
 *   apt-get install serf && npm run bench:soak
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { stopCluster } from '../test/fixtures/cluster.js'
import { waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { startBenchMesh } from './bench-mesh.js'
import { type SerfAgent, serfMembers, spawnSerf } from './serf-agents.js'
import { printTable } from './stats.js'

const N = 10
const SOAK_S = Number(process.env.BENCH_SOAK_S ?? 600)
const LOAD = Number(process.env.BENCH_LOAD ?? availableParallelism())
const dir = mkdtempSync(join(tmpdir(), 'aitbc-soak-'))

// --- Serf, each agent counting the failures it sees in a file of its own.
const failedLog = (name: string) => join(dir, `failed-${name}`)
const serf: SerfAgent[] = []
for (let i = 0; i < N; i++) {
  const name = `s${i}`
  const handler = `member-failed=cat >> ${failedLog(name)}`
  const agent = await spawnSerf(name, i === 0 ? undefined : serf[0]!.bind, [`-event-handler=${handler}`])
  await waitFor(`serf ${name} up`, () => serfMembers(agent).then(() => true, () => false), { timeoutMs: 10_000 })
  serf.push(agent)
}
await Promise.all(serf.map((a) => waitFor(`${a.name} sees all alive`,
  async () => Object.values(await serfMembers(a)).filter((s) => s === 'alive').length === N, { timeoutMs: 60_000 })))
const serfFailures = () => serf.reduce((sum, a) => {
  try {
    return sum + readFileSync(failedLog(a.name), 'utf8').split('\n').filter((l) => l.trim() !== '').length
  } catch {
    return sum
  }
}, 0)

// --- aitbc-node, default settings.
const redis = await startRedis()
const cluster = await startBenchMesh(N, redis.url, 'soak:', 60_000)

/** Transitions to `to` in each daemon's view, summed over the nodes it watches. */
async function transitions(to: 'offline' | 'degraded'): Promise<number> {
  let sum = 0
  for (const c of cluster) {
    const res = await fetch(`${c.daemon.url}/metrics`)
    if (!res.ok) throw new Error(`${c.name}: GET /metrics answered ${res.status}`)
    const text = await res.text()
    for (const m of text.matchAll(/^aitbc_node_state_transitions_total\{([^}]*)\} (\d+)/gm)) {
      if (m[1]!.includes(`to="${to}"`)) sum += Number(m[2])
    }
  }
  return sum
}

const start = { offline: await transitions('offline'), degraded: await transitions('degraded'), serf: serfFailures() }
// The load: busy loops that end by themselves at the deadline, and are killed by PID after it anyway.
const busy: ChildProcess[] = Array.from({ length: LOAD }, () =>
  spawn(process.execPath, ['-e', `const end = Date.now() + ${SOAK_S * 1000}; while (Date.now() < end) {}`], { stdio: 'ignore' }))
console.log(`${N} daemons and ${N} Serf agents, ${LOAD} busy processes, ${SOAK_S} s`)
const minutes = Math.ceil(SOAK_S / 60)
for (let m = 1; m <= minutes; m++) {
  await new Promise((r) => setTimeout(r, Math.min(60, SOAK_S - (m - 1) * 60) * 1000))
  console.log(`  after ${Math.min(m * 60, SOAK_S)} s: ours ${await transitions('offline') - start.offline} false offline, ` +
    `${await transitions('degraded') - start.degraded} degraded; Serf ${serfFailures() - start.serf} failed`)
}
for (const b of busy) b.kill('SIGKILL')
const end = { offline: await transitions('offline'), degraded: await transitions('degraded'), serf: serfFailures() }

printTable(['machine loaded (every core busy), nothing stopped', 'aitbc-node', 'Serf 0.8', 'target'], [
  ['false offline (ours) / failed (Serf), summed over every viewer', end.offline - start.offline, end.serf - start.serf, '0'],
  ['degraded (a suspect, confirmed alive)', end.degraded - start.degraded, '-', ''],
])
await stopCluster(cluster)
await redis.stop()
for (const a of serf) a.child.kill('SIGKILL')
rmSync(dir, { recursive: true, force: true })
process.exit(0)
