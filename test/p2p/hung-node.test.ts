import { execFileSync, spawn } from 'node:child_process'
import { cpus } from 'node:os'
import t from 'tap'
import { nodesOf, startCluster, stopCluster, waitForState } from '../fixtures/cluster.js'
import type { TestDaemon } from '../fixtures/daemon.js'
import { startRedis } from '../fixtures/redis-server.js'

// Default mesh settings: statuses on change (keepalive 3 s), offline by age after 12 s;
// a hung node is found by pings (every 400 ms) and a suspicion another node confirms.
const redis = await startRedis()
t.teardown(() => redis.stop())
const names = ['genesis', 'follower', 'island']
const cluster = await startCluster({ names, redisUrl: redis.url, args: ['--set', 'redis.prefix="hung:"'] })
t.teardown(() => stopCluster(cluster))
const [genesis, follower, island] = cluster.map((c) => c.daemon) as [TestDaemon, TestDaemon, TestDaemon]
for (const viewer of [genesis, follower, island]) for (const n of names) await waitForState(viewer, n, 'online', 15_000)

t.test('a hung node (SIGSTOP) is offline everywhere long before offlineAfterMs, the reason naming who tried, and back on SIGCONT', async (t) => {
  const stoppedAt = Date.now()
  follower.child.kill('SIGSTOP')
  let resumed = false
  const resume = () => {
    if (!resumed) follower.child.kill('SIGCONT')
    resumed = true
  }
  t.teardown(resume)
  await Promise.all([waitForState(genesis, 'follower', 'offline', 8000), waitForState(island, 'follower', 'offline', 8000)])
  const took = Date.now() - stoppedAt
  t.comment(`offline everywhere ${took} ms after SIGSTOP (offlineAfterMs is 12000; bench:serf measures the bound)`)
  t.ok(took < 8000, 'found by the pings, not by the status age')
  const reason = (await nodesOf(genesis)).follower!.reason
  // Genesis confirms it itself, or takes island's report of it if that comes first.
  t.match(reason, /^(no answer to pings from genesis(, nor to island)? for \d+ ms|reported lost by island, and (not heard here since|no answer to a ping from genesis either))$/, `reason: ${reason}`)

  resume()
  await Promise.all([online(genesis, 'follower'), online(island, 'follower')])
  t.pass('online again everywhere after SIGCONT')
})

/** Lists every time genesis or follower shows the island offline, while `during` runs. */
async function offlineSightings(during: () => Promise<void>): Promise<string[]> {
  const seen: string[] = []
  let done = false
  const watch = async () => {
    while (!done) {
      for (const [viewer, label] of [[genesis, 'genesis'], [follower, 'follower']] as const) {
        const row = (await nodesOf(viewer).catch(() => ({})) as Record<string, { status: string, reason: string | null }>).island
        if (row !== undefined && row.status === 'offline') seen.push(`${label}: ${row.reason}`)
      }
    }
  }
  const watching = watch()
  try {
    await during()
  } finally {
    done = true
    await watching
  }
  return [...new Set(seen)]
}

/** Waits for a node to be online in a view; a timeout names the row as the viewer shows it. */
async function online(viewer: TestDaemon, name: string): Promise<void> {
  try {
    await waitForState(viewer, name, 'online', 15_000)
  } catch (err) {
    const row = (await nodesOf(viewer))[name]
    const label = cluster.find((c) => c.daemon === viewer)!.name
    throw new Error(`${(err as Error).message}; ${label} shows ${name}: ${JSON.stringify(row)}`, { cause: err })
  }
}

async function allOnline(): Promise<void> {
  for (const viewer of [genesis, follower, island]) for (const n of names) await online(viewer, n)
}

const declaredOffline = (d: TestDaemon) => d.logs.filter((l) => /suspect confirmed unreachable/.test(String(l.msg))).map((l) => l.node)

// The node runs at nice 10 pinned to CPU 0 beside a busy process pinned there too, so it gets about a
// tenth of that core; the other cores stay free for the rest of the suite. At nice 15-19 it gets 1-3%
// and answers nothing for over a second at a time: that is down, and is shown so.
t.test('no false offline while a node runs at nice 10 for 10 s beside a busy process on its core', async (t) => {
  await allOnline()
  const pid = island.child.pid!
  const allCpus = `0-${cpus().length - 1}`
  execFileSync('taskset', ['-apc', '0', String(pid)], { stdio: 'ignore' })
  const burner = spawn('taskset', ['-c', '0', process.execPath, '-e', 'const end = Date.now() + 10500; while (Date.now() < end) {}'],
    { stdio: 'ignore' })
  const restore = () => {
    if (burner.exitCode === null) burner.kill('SIGKILL')
    execFileSync('renice', ['-n', '0', '-p', String(pid)], { stdio: 'ignore' })
    execFileSync('taskset', ['-apc', allCpus, String(pid)], { stdio: 'ignore' })
  }
  t.teardown(() => {
    if (island.child.exitCode === null) restore()
  })
  execFileSync('renice', ['-n', '10', '-p', String(pid)], { stdio: 'ignore' })
  const before = declaredOffline(island).length
  const seen = await offlineSightings(() => new Promise((r) => setTimeout(r, 10_000)))
  restore()
  t.same(seen, [], 'neither other node ever listed the starved node offline')
  t.same(declaredOffline(island).slice(before), [], 'the starved node declared nobody offline')
})

t.test('no false offline through 10 s of SIGSTOP bursts shorter than the suspicion window', async (t) => {
  await allOnline()
  const pid = island.child.pid!
  const before = declaredOffline(island).length
  let bursts = 0
  t.teardown(() => process.kill(pid, 'SIGCONT'))
  const seen = await offlineSightings(async () => {
    const until = Date.now() + 10_000
    while (Date.now() < until) {
      process.kill(pid, 'SIGSTOP')
      // 300-700 ms stopped, below the 1000 ms window, then 300 ms running.
      await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 400)))
      process.kill(pid, 'SIGCONT')
      bursts++
      await new Promise((r) => setTimeout(r, 300))
    }
  })
  t.comment(`${bursts} bursts`)
  t.same(seen, [], 'neither other node ever listed the stalled node offline')
  await allOnline()
  t.same(declaredOffline(island).slice(before), [], 'the stalled node declared nobody offline (its late timeouts prove nothing)')
})
