import t from 'tap'
import { type Mesh, RpcError } from '../../src/p2p/index.js'
import { PUSH_MIN_INTERVAL_MS, STATUS_PUSH_METHOD } from '../../src/p2p/status-gossip.js'
import { meshTestBed, rpcRejection, startTestMesh } from '../fixtures/mesh.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// A member that connects is handed each status directly (p2p.status), not by a publish
// flooded to every node. The method is the wire's newest door: these are its refusals.
const { client, dir } = await meshTestBed(t, 'status-push')

const ports = { alpha: await freePort(), beta: await freePort() }
const address = (n: keyof typeof ports) => `/ip4/127.0.0.1/tcp/${ports[n]}`

async function mesh(name: 'alpha' | 'beta'): Promise<Mesh> {
  const peers = (['alpha', 'beta'] as const).filter((p) => p !== name).map((p) => ({ name: p, address: address(p) }))
  const m = await startTestMesh({ name, dir, port: ports[name], peers, redis: client, prefix: 'push:' })
  t.teardown(() => m.stop())
  return m
}

const alpha = await mesh('alpha')
const beta = await mesh('beta')
await waitFor('each hears the other', () => alpha.view.stateOf('beta') === 'online' && beta.view.stateOf('alpha') === 'online', { timeoutMs: 10_000 })

const push = (status: unknown) => alpha.rpc.call('beta', STATUS_PUSH_METHOD, status, { timeoutMs: 5000 })
const pause = () => new Promise((r) => setTimeout(r, PUSH_MIN_INTERVAL_MS + 50))
let seq = 1_000

t.test('a member\'s own newer status is taken; the same one again is stale', async (t) => {
  await pause()
  const status = { ...alpha.gossip.current(), seq: ++seq, version: 'pushed-1' }
  t.same(await push(status), { taken: true })
  await pause()
  t.same(await push(status), { taken: false }, 'not newer than the one taken')
})

t.test('pushes faster than one per interval are refused, by code', async (t) => {
  await pause()
  // Sent together, so that they arrive within the interval however loaded the machine is.
  const results = await Promise.allSettled([++seq, ++seq, ++seq].map((s) => push({ ...alpha.gossip.current(), seq: s })))
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as RpcError] : []))
  t.ok(results.some((r) => r.status === 'fulfilled'), 'one is taken')
  t.ok(refused.length >= 1, `the others are refused (${refused.length} of 3)`)
  for (const err of refused) {
    t.equal(err.code, 'ERR_STATUS_PUSH_RATE')
    t.match(err.message, /at most one pushed status per 250 ms/)
  }
})

t.test('another node\'s status cannot be pushed: the author is the connection\'s peer', async (t) => {
  await pause()
  const err = await rpcRejection(push({ ...alpha.gossip.current(), seq: ++seq, peer_id: beta.peerId, name: 'beta' }))
  t.equal(err.code, 'ERR_STATUS_FOREIGN')
  t.match(err.message, /must be the caller's own/)
  t.equal(alpha.view.stateOf('beta'), 'online', 'nothing about beta changed')
})

t.test('a malformed status is refused before any handler, naming the field', async (t) => {
  await pause()
  const { seq: _seq, ...noSeq } = alpha.gossip.current()
  const err = await rpcRejection(push(noSeq))
  t.equal(err.code, 'ERR_RPC_BAD_PARAMS')
  t.match(err.message, /seq/)
})

t.test('a member reported lost as of its latest status raises its own local health and refutes', async (t) => {
  const before = alpha.liveness.health.score
  const me = alpha.gossip.current()
  const report = {
    ...beta.gossip.current(),
    seq: 5_000,
    lost: [{ name: 'alpha', started_at: me.started_at, seq: me.seq }],
  }
  await alpha.gossip.receivePushed(beta.peerId, report)
  t.equal(alpha.liveness.health.score, before + 1, 'another member could not reach it in time: it is likely the slow one (Lifeguard)')
  t.ok(alpha.gossip.current().seq > me.seq, 'a fresh status went out, whose newer seq clears the report')
})
