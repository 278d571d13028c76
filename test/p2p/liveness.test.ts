import type { Connection, Stream } from '@libp2p/interface'

type Incoming = { stream: Stream, connection: Connection }
import t from 'tap'
import { type Mesh, RpcError } from '../../src/p2p/index.js'
import { PROBE_METHOD } from '../../src/p2p/liveness/helper-server.js'
import { LIVENESS_PROTOCOL } from '../../src/p2p/liveness/wire.js'
import { meshTestBed, startTestMesh } from '../fixtures/mesh.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// Three in-process meshes on real libp2p. Statuses every 2 s with offline after 10 s,
// so a node declared offline within a couple of seconds was declared so by the pings.
const { client, dir } = await meshTestBed(t, 'liveness')

const NAMES = ['alpha', 'beta', 'gamma'] as const
type Name = typeof NAMES[number]
const ports = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await freePort()]))) as Record<Name, number>
const meshes = {} as Record<Name, Mesh>
for (const name of NAMES) {
  const peers = NAMES.filter((p) => p !== name).map((p) => ({ name: p, address: `/ip4/127.0.0.1/tcp/${ports[p]}` }))
  meshes[name] = await startTestMesh({ name, dir, port: ports[name], peers, redis: client, prefix: 'live:', intervalMs: 2000 })
  t.teardown(() => meshes[name].stop())
}
const { alpha, beta, gamma } = meshes
for (const viewer of NAMES) {
  for (const n of NAMES) {
    if (n !== viewer) await waitFor(`${viewer} sees ${n}`, () => meshes[viewer].view.stateOf(n) === 'online', { timeoutMs: 10_000 })
  }
}

const held = new Map<Mesh, Incoming[]>()
/**
 * Makes a node stop answering liveness beats (from everyone, or from the given peers) as a stopped
 * process would: its streams are re-opened into a handler that holds them, answered on restore.
 */
async function silence(m: Mesh, from?: Mesh[]): Promise<void> {
  const ignored = from?.map((x) => x.peerId)
  const queue: Incoming[] = []
  held.set(m, queue)
  await m.node.unhandle(LIVENESS_PROTOCOL)
  await m.node.handle(LIVENESS_PROTOCOL, (stream, connection) => {
    if (ignored !== undefined && !ignored.includes(connection.remotePeer.toString())) m.liveness.serve(stream, connection)
    else queue.push({ stream, connection })
  }, { maxInboundStreams: 8 })
  for (const c of m.node.getConnections()) {
    if (ignored !== undefined && !ignored.includes(c.remotePeer.toString())) continue
    for (const s of c.streams) if (s.protocol === LIVENESS_PROTOCOL && s.direction === 'inbound') s.abort(new Error('silenced'))
  }
}
async function restore(m: Mesh): Promise<void> {
  await m.node.unhandle(LIVENESS_PROTOCOL)
  await m.node.handle(LIVENESS_PROTOCOL, (stream, connection) => m.liveness.serve(stream, connection), { maxInboundStreams: 2 })
  for (const data of held.get(m) ?? []) if (data.stream.status === 'open') m.liveness.serve(data.stream, data.connection)
  held.delete(m)
}
const row = (viewer: Mesh, name: string) => viewer.view.snapshot().find((r) => r.name === name)!

t.test('a node that answers no pings and sends no status is offline everywhere, confirmed by the other node', async (t) => {
  await silence(beta)
  beta.gossip.stop()
  const started = Date.now()
  const states: string[] = []
  await waitFor('alpha and gamma see beta offline', () => {
    const s = alpha.view.stateOf('beta')
    if (states.at(-1) !== s) states.push(s!)
    return s === 'offline' && gamma.view.stateOf('beta') === 'offline'
  }, { timeoutMs: 6000, intervalMs: 20 })
  t.comment(`offline everywhere ${Date.now() - started} ms after it went silent (status offline would take 10 s)`)
  t.same(states.slice(0, 3), ['online', 'degraded', 'offline'], 'a suspect (degraded) first, then offline')
  // Each confirms it itself, or takes the other's report if that comes first; at least one confirmed it first-hand.
  const reasons = [row(alpha, 'beta').reason, row(gamma, 'beta').reason]
  t.match(reasons[0], /^(no answer to pings from alpha, nor to gamma for \d+ ms|reported lost by gamma, and (not heard here since|no answer to a ping from alpha either))$/)
  t.match(reasons[1], /^(no answer to pings from gamma, nor to alpha for \d+ ms|reported lost by alpha, and (not heard here since|no answer to a ping from gamma either))$/)
  t.ok(reasons.some((r) => r?.startsWith('no answer to pings')), `the reason names who tried (${reasons.join(' / ')})`)
  // Judged when the 1000 ms window ends (the helper said no well before), not at a later round of pings.
  const waited = reasons.flatMap((r) => /for (\d+) ms$/.exec(r ?? '')?.[1] ?? []).map(Number)
  t.ok(waited.every((ms) => ms < 1150), `declared ${waited.join(', ')} ms after the first missed ping`)
  t.ok(alpha.view.stateOf('gamma') === 'online' && gamma.view.stateOf('alpha') === 'online', 'the others still see each other')

  await restore(beta)
  beta.gossip.start()
  await waitFor('beta online again everywhere', () => alpha.view.stateOf('beta') === 'online' && gamma.view.stateOf('beta') === 'online',
    { timeoutMs: 15_000 })
  t.pass('back online once it answers')
})

t.test('a node only one peer cannot ping stays degraded there, vouched for by the other, never offline', async (t) => {
  await silence(beta, [alpha])
  t.teardown(() => restore(beta))
  const seen = new Set<string>()
  const until = Date.now() + 3500
  await waitFor('3.5 s of watching', () => {
    seen.add(alpha.view.stateOf('beta')!)
    return Date.now() > until
  }, { timeoutMs: 15_000, intervalMs: 20 })
  t.notOk(seen.has('offline'), `alpha saw beta as ${[...seen].join(', ')}: never offline`)
  t.ok(seen.has('degraded'), 'degraded from alpha')
  t.match(row(alpha, 'beta').reason, /no answer to pings from alpha, but gamma reaches it/)
  t.equal(gamma.view.stateOf('beta'), 'online', 'gamma, which reaches it, sees it online')
})

t.test('a stall shorter than the suspicion window is never offline', async (t) => {
  await waitFor('beta online', () => alpha.view.stateOf('beta') === 'online', { timeoutMs: 10_000 })
  const seen = new Set<string>()
  const watch = setInterval(() => {
    seen.add(alpha.view.stateOf('beta')!)
    seen.add(gamma.view.stateOf('beta')!)
  }, 10)
  t.teardown(() => clearInterval(watch))
  for (let i = 0; i < 3; i++) {
    await silence(beta)
    await new Promise((r) => setTimeout(r, 700))
    await restore(beta)
    await waitFor('answers again', () => !alpha.liveness.isSuspect('beta') && !gamma.liveness.isSuspect('beta'), { timeoutMs: 15_000 })
  }
  clearInterval(watch)
  t.notOk(seen.has('offline'), `seen as ${[...seen].join(', ')} through three 700 ms stalls: never offline`)
})

t.test('a report of a node that answered lately is checked with one ping here, and taken only if it goes unanswered', async (t) => {
  await waitFor('beta online', () => alpha.view.stateOf('beta') === 'online', { timeoutMs: 10_000 })
  alpha.liveness.verify('beta', 'gamma')
  await new Promise((r) => setTimeout(r, 800))
  t.equal(alpha.view.stateOf('beta'), 'online', 'beta answered the check: the report is not taken')

  await silence(beta, [alpha])
  t.teardown(() => restore(beta))
  // beta's statuses still arrive, and bring it back online soon after: the offline state is watched for, not polled.
  const reasons = new Set<string>()
  const watch = setInterval(() => {
    const r = row(alpha, 'beta')
    if (r.status === 'offline') reasons.add(r.reason ?? '')
  }, 5)
  t.teardown(() => clearInterval(watch))
  // Checked again until a ping times out in time (a timeout that fires late on a loaded machine counts for nothing).
  await waitFor('alpha takes the report', () => {
    alpha.liveness.verify('beta', 'gamma')
    return reasons.size > 0
  }, { timeoutMs: 8000, intervalMs: 700 })
  clearInterval(watch)
  t.same([...reasons], ['reported lost by gamma, and no answer to a ping from alpha either'])
  t.equal(gamma.view.stateOf('beta'), 'online', 'gamma, which reaches it, is not affected')
  await restore(beta)
  await waitFor('beta online again at alpha', () => alpha.view.stateOf('beta') === 'online', { timeoutMs: 15_000 })
})

t.test('a member asking for probes gets bounded, named answers, and at most 8 run at once', async (t) => {
  await waitFor('all online', () => alpha.view.stateOf('beta') === 'online' && alpha.view.stateOf('gamma') === 'online', { timeoutMs: 10_000 })
  t.same(await alpha.rpc.call('beta', PROBE_METHOD, { node: 'gamma' }, { timeoutMs: 10_000 }), { reachable: true, reason: null },
    'a member that answers is reachable')
  t.same(await alpha.rpc.call('beta', PROBE_METHOD, { node: 'nobody' }, { timeoutMs: 10_000 }),
    { reachable: false, reason: 'beta knows no node nobody' }, 'an unknown name: no dial, a plain answer')
  t.same(await alpha.rpc.call('beta', PROBE_METHOD, { node: 'alpha' }, { timeoutMs: 10_000 }),
    { reachable: false, reason: 'beta knows no node alpha' }, 'the caller itself: refused')
  const bad = await alpha.rpc.call('beta', PROBE_METHOD, { node: 'x'.repeat(500) }, { timeoutMs: 10_000 }).catch((e: unknown) => e)
  t.match(bad, { code: 'ERR_RPC_BAD_PARAMS', message: /params\.node/ }, 'an oversized name is refused by the schema')

  // gamma goes silent: each probe for it holds a helper slot until the deadline; the ninth and later are refused.
  await silence(gamma)
  t.teardown(() => restore(gamma))
  const calls = await Promise.allSettled(Array.from({ length: 12 }, () =>
    alpha.rpc.call('beta', PROBE_METHOD, { node: 'gamma' }, { timeoutMs: 1500 })))
  const outcomes = calls.map((c) => (c.status === 'rejected' ? (c.reason as RpcError).code : JSON.stringify(c.value)))
  const busy = outcomes.filter((o) => o === 'ERR_PROBE_BUSY').length
  t.equal(busy, 4, '4 of 12 at once refused as busy (8 run at a time)')
  t.same(outcomes.filter((o) => o !== 'ERR_PROBE_BUSY'), Array(8).fill(JSON.stringify({ reachable: false, reason: 'gamma did not answer pings from beta' })),
    'the 8 that ran answered unreachable before the deadline')
})
