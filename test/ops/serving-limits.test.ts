import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { OpRecord } from '../../src/ops/index.js'
import { meshTestBed } from '../fixtures/mesh.js'
import { startOpsNode, type TestOpsNode } from '../fixtures/ops-node.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// Seed 000: "MUST NOT execute more than 5 parallel cross-node operations" and
// "MUST respect timeout limits". Both are enforced by the node that does the
// work, counting every caller. Two in-process nodes, each wired as the daemon wires its
// operations (engine, node-action server on the mesh, journal), on real libp2p and Redis.
const { client, dir } = await meshTestBed(t, 'limits')
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
const NAMES = ['genesis', 'follower'] as const
const ports = { genesis: await freePort(), follower: await freePort() }
const nodes: TestOpsNode[] = []
for (const name of NAMES) {
  const other = NAMES.find((n) => n !== name)!
  const node = await startOpsNode({
    name, dir, port: ports[name], redis: client, prefix: 'limits:',
    peers: [{ name: other, address: `/ip4/127.0.0.1/tcp/${ports[other]}` }],
    // ops.maxConcurrent's default is seed 000's 5.
    maxConcurrent: 5, maxQueued: 30, defaultTimeoutMs: 60_000, actions: actionsFor(name),
  })
  nodes.push(node)
  t.teardown(() => node.stop())
}
const [genesis, follower] = nodes as [TestOpsNode, TestOpsNode]
await waitFor('follower online for genesis', () => genesis.mesh.view.stateOf('follower') === 'online')
await waitFor('genesis online for follower', () => follower.mesh.view.stateOf('genesis') === 'online')

const coordinate = (d: TestOpsNode, action: string, target: string, timeout: number): Promise<OpRecord> =>
  d.run({ operation: 'coordinate', action, target_node: target, timeout })
/** POST /ops?wait=0: accepted (202) is submitted without a refusal. */
const accepted = (d: TestOpsNode, action: string, target: string, timeout: number): string =>
  d.submit({ operation: 'coordinate', action, target_node: target, timeout }).id
const stateOf = async (d: TestOpsNode, id: string) => (await d.journal.get(id))?.state

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
  t.ok(all.every((r) => r.state === 'done' && r.report?.validation_status === 'success'), 'all 30 operations succeeded')
  for (const node of ['genesis', 'follower']) {
    const { max, runs } = maxOverlap(join(scratch, `${node}.slow`))
    t.equal(runs, 30, `${node} ran the action for each of the 30 operations`)
    t.ok(max <= 5, `${node}: at most 5 actions at once (saw ${max})`)
    t.ok(max >= 2, `${node}: actions did overlap (saw ${max}), so the cap was what held them`)
  }
  // aitbc_node_actions_peak_running on the daemon.
  t.ok(follower.slots.peak >= 1 && follower.slots.peak <= 5, `the serving node's peak is at most 5 (${follower.slots.peak})`)
})

t.test('a queued operation with a 2 s timeout answers by 3 s, as not started', async (t) => {
  const holders = Array.from({ length: 5 }, () => accepted(genesis, 'hold', 'genesis', 10))
  t.equal(holders.length, 5, 'five operations hold genesis\'s slots')
  await waitFor('five running', () => genesis.engine.runningCount === 5)
  const started = Date.now()
  const res = await coordinate(genesis, 'slow', 'all', 2)
  const took = Date.now() - started
  t.ok(took <= 3000, `answered after ${took} ms`)
  const report = res.report!
  t.equal(report.validation_status, 'failed')
  t.match(report.issues, [{ step: 'queue', error: /not started/ }], 'the report says it never started')
  for (const h of holders) await waitFor('holder done', async () => (await stateOf(genesis, h)) === 'done', { timeoutMs: 15_000 })
})

t.test('an action whose deadline passes while it waits for a slot never starts', async (t) => {
  // The follower's own operations take all five of its action slots for 4 s.
  const holders = Array.from({ length: 5 }, () => accepted(follower, 'hold', 'follower', 10))
  await waitFor('five actions running on the follower', () => follower.slots.runningCount === 5)
  const res = await coordinate(genesis, 'late', 'follower', 1)
  const report = res.report!
  t.equal(report.validation_status, 'failed')
  t.match(report.issues, [{ node: 'follower' }], 'the follower is named')
  for (const h of holders) await waitFor('holder done', async () => (await stateOf(follower, h)) === 'done', { timeoutMs: 15_000 })
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
  t.equal(res.report?.validation_status, 'failed', 'the action did not finish by the deadline')
  await waitFor('no process of the group left', () => alive().length === 0, { timeoutMs: 10_000 })
  t.same(alive(), [], 'both backgrounded children are gone')
})
