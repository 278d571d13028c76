import type { Connection, Stream } from '@libp2p/interface'

type Incoming = { stream: Stream, connection: Connection }
import t from 'tap'
import type { Mesh } from '../../src/p2p/index.js'
import { LIVENESS_PROTOCOL } from '../../src/p2p/liveness/wire.js'
import { meshTestBed, startTestMesh } from '../fixtures/mesh.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// Issue 28: `./dev up` logged "node genesis is degraded (missed a ping from node3...)" while the
// cluster started: node3 pinged members it had connected to but not yet heard, the pings timed out
// (every process of the cluster still starting), and the suspicion turned their first status into
// "degraded". Here beta connects but neither sends a status nor answers pings, as a starting daemon.
// Statuses every 2 s with offline after 10 s, so an offline within seconds comes from the pings.
const { client, dir } = await meshTestBed(t, 'liveness-start')
const [pa, pb] = [await freePort(), await freePort()]
const beta = await startTestMesh({ name: 'beta', dir, port: pb, peers: [{ name: 'alpha', address: `/ip4/127.0.0.1/tcp/${pa}` }], redis: client, prefix: 'ls:', intervalMs: 2000 })
t.teardown(() => beta.stop())

const held: Incoming[] = []
async function silence(m: Mesh): Promise<void> {
  await m.node.unhandle(LIVENESS_PROTOCOL)
  await m.node.handle(LIVENESS_PROTOCOL, (stream, connection) => {
    held.push({ stream, connection })
  }, { maxInboundStreams: 8 })
  for (const c of m.node.getConnections()) {
    for (const s of c.streams) if (s.protocol === LIVENESS_PROTOCOL && s.direction === 'inbound') s.abort(new Error('silenced'))
  }
}
async function restore(m: Mesh): Promise<void> {
  await m.node.unhandle(LIVENESS_PROTOCOL)
  await m.node.handle(LIVENESS_PROTOCOL, (stream, connection) => m.liveness.serve(stream, connection), { maxInboundStreams: 2 })
  for (const data of held.splice(0)) if (data.stream.status === 'open') m.liveness.serve(data.stream, data.connection)
}

beta.gossip.stop()
await silence(beta)
const alpha = await startTestMesh({ name: 'alpha', dir, port: pa, peers: [{ name: 'beta', address: `/ip4/127.0.0.1/tcp/${pb}` }], redis: client, prefix: 'ls:', intervalMs: 2000 })
t.teardown(() => alpha.stop())

t.test('a member connected but never heard is not suspected: its first status makes it online, not degraded', async (t) => {
  const states: string[] = []
  let suspected = false
  const watch = setInterval(() => {
    const s = alpha.view.stateOf('beta')!
    if (states.at(-1) !== s) states.push(s)
    suspected ||= alpha.liveness.isSuspect('beta')
  }, 5)
  t.teardown(() => clearInterval(watch))
  await waitFor('alpha pings beta', () => held.length > 0, { timeoutMs: 10_000 })
  const pingedAt = Date.now()
  // Past the ping timeout (400 ms) and a whole suspicion window (2 x 1000 ms with no helper).
  await waitFor('2.5 s of unanswered pings', () => Date.now() - pingedAt > 2500, { timeoutMs: 5000, intervalMs: 50 })
  t.notOk(suspected, 'no suspicion of a member never heard')
  t.equal(alpha.view.stateOf('beta'), 'offline', 'shown as it is: offline, never heard')

  await restore(beta)
  beta.gossip.start()
  await waitFor('alpha hears beta', () => alpha.view.stateOf('beta') === 'online', { timeoutMs: 15_000 })
  clearInterval(watch)
  t.same(states, ['offline', 'online'], `alpha showed beta as ${states.join(' -> ')}`)
})

t.test('once heard, a member that stops answering pings is still suspected and declared offline by them', async (t) => {
  await silence(beta)
  t.teardown(() => restore(beta))
  beta.gossip.stop()
  t.teardown(() => beta.gossip.start())
  const started = Date.now()
  const states: string[] = []
  await waitFor('alpha sees beta offline', () => {
    const s = alpha.view.stateOf('beta')!
    if (states.at(-1) !== s) states.push(s)
    return s === 'offline'
  }, { timeoutMs: 8000, intervalMs: 10 })
  t.same(states.slice(0, 3), ['online', 'degraded', 'offline'], 'a suspect first, then offline')
  t.match(alpha.view.snapshot().find((r) => r.name === 'beta')?.reason, /^no answer to pings from alpha for \d+ ms$/)
  t.comment(`offline ${Date.now() - started} ms after it went silent (the status age would take 10 s)`)
})
