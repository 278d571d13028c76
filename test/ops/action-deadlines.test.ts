import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import t from 'tap'
import type { OpRecord } from '../../src/ops/index.js'
import { meshTestBed } from '../fixtures/mesh.js'
import { startOpsNode } from '../fixtures/ops-node.js'
import { daemonAddress, exchangeFrames, newIdentity, startOutsider } from '../fixtures/outsider.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { liveMembers } from '../fixtures/process-groups.js'

// Seed 000: "MUST respect timeout limits". The node that does the work owns
// the deadline: its operation's, as the journal records it, whatever the
// caller writes in deadline_ms; and a caller that hangs up stops the work.
// The caller here is a member written with libp2p's own packages, so it can
// send what a daemon never would. The serving node is in-process: its mesh, node-action
// server and journal wired as the daemon wires them, on real libp2p and a real Redis.
const { client, dir } = await meshTestBed(t, 'deadlines')
const scratch = mkdtempSync(join(tmpdir(), 'aitbc-deadlines-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
const file = (name: string) => join(scratch, name)

const probeId = await newIdentity()
const probePort = await freePort()
const probe = await startOutsider({ key: probeId.key, listen: `/ip4/127.0.0.1/tcp/${probePort}` })
t.teardown(() => probe.stop())
const actions = {
  hold: { command: ['/bin/sleep', '2.5'] },
  mark: { command: ['/bin/sh', '-c', `date +%s%3N >> ${file('mark')}`] },
  slow: { command: ['/bin/sh', '-c', `sleep 3; date +%s%3N >> ${file('slow')}`] },
  // The shell leads the group; $$ is its pid and so the group's id.
  tree: { command: ['/bin/sh', '-c', `echo $$ >> ${file('tree')}; sleep 300 & sleep 300 & wait`] },
}
const followerPort = await freePort()
const follower = await startOpsNode({
  name: 'follower', dir, port: followerPort, redis: client, prefix: 'deadlines:',
  peers: [{ name: 'probe', address: `/ip4/127.0.0.1/tcp/${probePort}`, peerId: probeId.peerId }],
  // One slot, so a call can be made to wait for it.
  maxConcurrent: 1, maxQueued: 20, defaultTimeoutMs: 60_000,
  actions,
})
t.teardown(() => follower.stop())
const { journal } = follower
const addr = daemonAddress(`/ip4/127.0.0.1/tcp/${followerPort}`, follower.mesh.peerId)

/** An operation the probe started, as its own daemon would have journalled it. */
async function probeOp(action: string, deadlineInMs: number): Promise<string> {
  const now = Date.now()
  const rec: OpRecord = {
    op_id: randomUUID(), node: 'probe', state: 'running',
    request: { operation: 'coordinate', action, target_node: 'follower', force: true, verify: true },
    created_at: new Date(now).toISOString(), deadline_at: now + deadlineInMs, finished_at: null, report: null, events: [],
  }
  await journal.save(rec)
  return rec.op_id
}
const req = (method: string, params: unknown, opId: string | null, deadlineMs: number) => ({ t: 'req', method, params, deadline_ms: deadlineMs, op_id: opId })
const call = async (frame: unknown) => (await exchangeFrames(probe, addr, '/aitbc/rpc/1.0.0', [frame])).replies
// What the daemon exports as aitbc_node_actions_running and aitbc_node_actions_waiting.
const running = () => follower.slots.runningCount
const waiting = () => follower.slots.waitingCount

t.test('an action whose operation is past its deadline never starts, nor one whose deadline passes while it waits', async (t) => {
  const expired = await call(req('node.action', { name: 'mark' }, await probeOp('mark', -1), 60_000))
  t.match(expired, [{ ok: false, error: { code: 'ERR_ACTION_DEADLINE', message: /past its deadline/ } }], 'an expired operation: not started')

  // The probe's own long action takes the one slot; the next call's operation ends while it waits.
  const holding = call(req('node.action', { name: 'hold' }, await probeOp('hold', 20_000), 20_000))
  await waitFor('the hold running', () => running() === 1)
  const started = Date.now()
  const late = await call(req('node.action', { name: 'mark' }, await probeOp('mark', 700), 60_000))
  t.match(late, [{ ok: false, error: { code: 'ERR_ACTION_DEADLINE' } }], 'refused at the operation\'s deadline, not the caller\'s 60 s')
  t.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`)
  t.match(await holding, [{ ok: true, result: { ok: true } }], 'the hold finished')
  // Had the late call still waited, it would have taken the slot the hold freed.
  await waitFor('no action running or waiting', () => running() === 0 && waiting() === 0)
  t.notOk(existsSync(file('mark')), 'the mark action never ran')
})

t.test('a caller\'s inflated deadline_ms does not stretch an action past its operation\'s deadline', async (t) => {
  const started = Date.now()
  const res = await call(req('node.action', { name: 'slow' }, await probeOp('slow', 1000), 600_000))
  const took = Date.now() - started
  t.match(res, [{ ok: true, result: { ok: false, exit_code: null, output: /killed at the deadline/ } }], 'killed at the operation\'s deadline')
  t.ok(took < 2000, `answered after ${took} ms (operation deadline 1000 ms, the action needs 3000)`)
  // The action would write its mark at 3 s: wait until then, plus a margin.
  await waitFor('3.5 s after the call', () => Date.now() - started > 3500, { timeoutMs: 5000 })
  t.notOk(existsSync(file('slow')), 'the action never finished')
})

t.test('a caller that hangs up mid-run: the action\'s whole process group is killed', async (t) => {
  const stream = await probe.dialProtocol(addr, '/aitbc/rpc/1.0.0', { signal: AbortSignal.timeout(5000) })
  const frame = req('node.action', { name: 'tree' }, await probeOp('tree', 30_000), 30_000)
  void lpStream(stream).write(new TextEncoder().encode(JSON.stringify(frame))).catch(() => {})
  const pgid = await waitFor('the action\'s group running', () => {
    const pid = existsSync(file('tree')) ? Number(readFileSync(file('tree'), 'utf8').trim()) : 0
    return pid > 0 && liveMembers(pid).length === 3 ? pid : undefined
  })
  t.teardown(() => {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // Gone, as it should be.
    }
  })
  const hungUp = Date.now()
  stream.abort(new Error('the caller gave up'))
  await waitFor('no process of the group left', () => liveMembers(pgid).length === 0, { timeoutMs: 10_000 })
  t.pass(`the shell and both sleeps are gone ${Date.now() - hungUp} ms after the hang-up, long before the operation's 30 s`)
  await waitFor('the slot free again', () => running() === 0)
})

t.test('node.git.sync needs an operation even to check; op_id must be an operation id', async (t) => {
  t.match(await call(req('node.git.sync', { apply: false }, null, 5000)), [{ ok: false, error: { code: 'ERR_ACTION_FORBIDDEN', message: /no operation id/ } }],
    'a check without an operation: refused')
  t.match(await call(req('node.git.sync', { apply: false }, await probeOp('mark', 5000), 5000)), [{ ok: false, error: { code: 'ERR_ACTION_FORBIDDEN', message: /not part of a coordinate/ } }],
    'a check inside an operation that is no git sync: refused')
  for (const method of ['node.action', 'node.status']) {
    const params = method === 'node.action' ? { name: 'mark' } : null
    t.match(await call(req(method, params, 'recent', 5000)), [{ ok: false, error: { code: 'ERR_ACTION_BAD_OP_ID', message: /^op_id: / } }], `${method} with op_id "recent"`)
  }
  t.notOk(existsSync(file('mark')), 'nothing ran')
})
