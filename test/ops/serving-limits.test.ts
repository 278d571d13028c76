import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { FAST_MESH, startCluster, stopCluster, waitForState } from '../fixtures/cluster.js'
import { api, type TestDaemon } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// Seed 000: "MUST NOT execute more than 5 parallel cross-node operations" and
// "MUST respect timeout limits". Both are enforced by the node that does the
// work, counting every caller.
const redis = await startRedis()
t.teardown(() => redis.stop())
const scratch = mkdtempSync(join(tmpdir(), 'aitbc-limits-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))

const TREE_MARK = `31.${process.pid}`
const actionsFor = (node: string) => ({
  // Records its start and end (ns) so the test can count how many ran at once on this node.
  slow: { command: ['/bin/sh', '-c', `echo "+ $(date +%s%N)" >> ${join(scratch, `${node}.slow`)}; sleep 0.3; echo "- $(date +%s%N)" >> ${join(scratch, `${node}.slow`)}`] },
  hold: { command: ['/bin/sleep', '4'] },
  late: { command: ['/bin/sh', '-c', `date +%s%3N >> ${join(scratch, `${node}.late`)}`] },
  tree: { command: ['/bin/sh', '-c', `sleep ${TREE_MARK} & sleep ${TREE_MARK} & wait`] },
})
const cluster = await startCluster({
  names: ['genesis', 'follower'],
  redisUrl: redis.url,
  args: [...FAST_MESH, '--set', 'redis.prefix="limits:"', '--set', 'ops.maxQueued=30'],
  nodeOptions: (name) => ({ args: ['--set', `ops.actions=${JSON.stringify(actionsFor(name))}`] }),
})
t.teardown(() => stopCluster(cluster))
const [genesis, follower] = cluster.map((c) => c.daemon) as [TestDaemon, TestDaemon]
await waitForState(genesis, 'follower', 'online')
await waitForState(follower, 'genesis', 'online')

type Report = {
  op_id: string
  validation_status: string
  issues: { node: string, step: string, error: string }[]
  execution_time: number
}
const coordinate = (d: TestDaemon, action: string, target: string, timeout: number, wait = true) =>
  api(d.url, 'POST', `/ops${wait ? '' : '?wait=0'}`, { operation: 'coordinate', action, target_node: target, timeout })

/** The most actions that overlapped in time, from the +/- lines each run wrote. */
function maxOverlap(file: string): { max: number, runs: number } {
  const events = readFileSync(file, 'utf8').trim().split('\n').map((l) => {
    const [sign, ns] = l.split(' ')
    return { at: BigInt(ns!), d: sign === '+' ? 1 : -1 }
  }).sort((a, b) => (a.at === b.at ? a.d - b.d : a.at < b.at ? -1 : 1))
  let now = 0
  let max = 0
  for (const e of events) {
    now += e.d
    max = Math.max(max, now)
  }
  return { max, runs: events.length / 2 }
}

t.test('15 operations started on each of two daemons never run more than 5 actions at once on any node', async (t) => {
  const all = await Promise.all([genesis, follower].flatMap((d) => Array.from({ length: 15 }, () => coordinate(d, 'slow', 'all', 60))))
  t.ok(all.every((r) => r.status === 200 && (r.body as Report).validation_status === 'success'), 'all 30 operations succeeded')
  for (const node of ['genesis', 'follower']) {
    const { max, runs } = maxOverlap(join(scratch, `${node}.slow`))
    t.equal(runs, 30, `${node} ran the action for each of the 30 operations`)
    t.ok(max <= 5, `${node}: at most 5 actions at once (saw ${max})`)
    t.ok(max >= 2, `${node}: actions did overlap (saw ${max}), so the cap was what held them`)
  }
  const metrics = await (await fetch(`${follower.url}/metrics`)).text()
  t.match(metrics, /aitbc_node_actions_peak_running [1-5]\b/, 'the serving node\'s peak is at most 5')
})

t.test('a queued operation with a 2 s timeout answers by 3 s, as not started', async (t) => {
  const holders = await Promise.all(Array.from({ length: 5 }, () => coordinate(genesis, 'hold', 'genesis', 10, false)))
  t.ok(holders.every((h) => h.status === 202), 'five operations hold genesis\'s slots')
  await waitFor('five running', async () => /aitbc_ops_running 5\b/.test(await (await fetch(`${genesis.url}/metrics`)).text()))
  const started = Date.now()
  const res = await coordinate(genesis, 'slow', 'all', 2)
  const took = Date.now() - started
  t.ok(took <= 3000, `answered after ${took} ms`)
  const report = res.body as Report
  t.equal(report.validation_status, 'failed')
  t.match(report.issues, [{ step: 'queue', error: /not started/ }], 'the report says it never started')
  for (const h of holders) await waitFor('holder done', async () => ((await api(genesis.url, 'GET', `/ops/${String(h.body.op_id)}`)).body.operation as { state?: string } | undefined)?.state === 'done', { timeoutMs: 15_000 })
})

t.test('an action whose deadline passes while it waits for a slot never starts', async (t) => {
  // The follower's own operations take all five of its action slots for 4 s.
  const holders = await Promise.all(Array.from({ length: 5 }, () => coordinate(follower, 'hold', 'follower', 10, false)))
  await waitFor('five actions running on the follower', async () => /aitbc_node_actions_running 5\b/.test(await (await fetch(`${follower.url}/metrics`)).text()))
  const res = await coordinate(genesis, 'late', 'follower', 1)
  const report = res.body as Report
  t.equal(report.validation_status, 'failed')
  t.match(report.issues, [{ node: 'follower' }], 'the follower is named')
  for (const h of holders) await waitFor('holder done', async () => ((await api(follower.url, 'GET', `/ops/${String(h.body.op_id)}`)).body.operation as { state?: string } | undefined)?.state === 'done', { timeoutMs: 15_000 })
  // The slots are free again now; an action that was still waiting would start here.
  await new Promise((r) => setTimeout(r, 500))
  t.notOk(existsSync(join(scratch, 'follower.late')), 'the late action never ran, not even after the slots freed')
})

t.test('a deadline kills the action\'s whole process group', async (t) => {
  const alive = (): string[] => {
    try {
      return execFileSync('pgrep', ['-f', `^sleep ${TREE_MARK}$`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean)
    } catch {
      return []
    }
  }
  const pending = coordinate(genesis, 'tree', 'genesis', 1)
  await waitFor('the action\'s children running', () => alive().length === 2)
  const res = await pending
  t.equal((res.body as Report).validation_status, 'failed', 'the action did not finish by the deadline')
  await waitFor('no process of the group left', () => alive().length === 0, { timeoutMs: 2000 })
  t.same(alive(), [], 'both backgrounded children are gone')
})
