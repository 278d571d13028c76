import { pino } from 'pino'
import t from 'tap'
import { MembershipView, type NodeTransition } from '../../src/p2p/membership-view.js'
import { NameBindings } from '../../src/p2p/name-bindings.js'
import type { NodeStatus } from '../../src/p2p/node-status.js'

// In-process: the view's rules on a clock the test moves. Names are bound by configuration,
// so the shared store is never asked.
const SELF = { name: 'alpha', peerId: '12D3KooWAlpha' }
const BETA = { name: 'beta', peerId: '12D3KooWBeta', address: '/ip4/127.0.0.1/tcp/1' }

function setup() {
  let now = 1000
  const transitions: NodeTransition[] = []
  const bindings = new NameBindings({
    selfName: SELF.name,
    selfPeerId: SELF.peerId,
    configured: [BETA],
    store: { all: () => Promise.reject(new Error('unused')), pin: () => Promise.reject(new Error('unused')), forget: () => Promise.reject(new Error('unused')) },
    log: pino({ level: 'silent' }),
  })
  const view = new MembershipView({
    selfName: SELF.name,
    suspectAfterMs: 3000,
    offlineAfterMs: 5000,
    peers: [BETA],
    bindings,
    selfStatus: () => status(SELF.name, SELF.peerId, 0),
    onTransition: (tr) => transitions.push(tr),
    now: () => now,
  })
  const advance = (ms: number): void => {
    now += ms
    view.tick()
  }
  return { view, transitions, advance }
}

function status(name: string, peerId: string, seq: number): NodeStatus {
  return {
    name, peer_id: peerId, seq, time: Date.now(), started_at: 1, uptime_s: 1, chain: null, last_sync: null, p2p_connections: 1,
    links: [], version: 'test', git_head: null, running_ops: 0, coordinator_url: null, addresses: [], health: 'ok', problems: [],
    registry: { cluster_id: null, host: 'test', db: 0, prefix: 'p:' },
  }
}

const row = (view: MembershipView) => view.snapshot().find((r) => r.name === 'beta')!

t.test('answered pings keep a node online between its statuses, and count as being heard', async (t) => {
  const { view, advance } = setup()
  view.observe(status('beta', BETA.peerId, 1))
  t.equal(view.stateOf('beta'), 'online')
  for (let i = 0; i < 10; i++) {
    advance(1000)
    view.markAlive('beta')
  }
  t.equal(view.stateOf('beta'), 'online', '10 s after its last status, with pings answered')
  t.equal(row(view).last_seen_ms, 0, 'last seen is the last ping answered')
  advance(3000)
  t.equal(view.stateOf('beta'), 'degraded', 'no status and no ping for suspectAfterMs: degraded')
})

t.test('a suspect is degraded with the reason; confirmed, offline; an answer or a newer status brings it back', async (t) => {
  const { view, transitions } = setup()
  view.observe(status('beta', BETA.peerId, 1))
  view.markSuspect('beta', 'missed a ping from alpha; asking other nodes')
  t.match(row(view), { status: 'degraded', reason: 'missed a ping from alpha; asking other nodes' })
  view.markSuspect('beta', null)
  t.equal(view.stateOf('beta'), 'online', 'a suspicion withdrawn leaves it online')

  view.markUnreachable('beta', 'no answer to pings from alpha, nor to gamma for 1000 ms')
  t.match(row(view), { status: 'offline', reason: /nor to gamma/ })
  view.markSuspect('beta', 'missed a ping')
  t.equal(view.stateOf('beta'), 'offline', 'a confirmed node stays offline while pings still fail')
  view.markAlive('beta')
  t.match(row(view), { status: 'online', reason: null }, 'one answered ping clears it')

  view.markUnreachable('beta', 'no answer')
  t.notOk(view.observe(status('beta', BETA.peerId, 1)), 'a status already seen changes nothing')
  t.equal(view.stateOf('beta'), 'offline')
  t.ok(view.observe(status('beta', BETA.peerId, 2)), 'a newer status is taken')
  t.equal(view.stateOf('beta'), 'online', 'and clears it')
  t.same(transitions.map((tr) => `${tr.from}->${tr.to}`), [
    'offline->online', 'online->degraded', 'degraded->online', 'online->offline', 'offline->online', 'online->offline', 'offline->online',
  ], 'every change is reported once')
})

t.test('pings never make a node that was never heard online, nor keep a node its peer id does not match', async (t) => {
  const { view } = setup()
  view.markAlive('beta')
  t.match(row(view), { status: 'offline', reason: 'never heard' }, 'a row needs a status first')
  t.notOk(view.observe(status('beta', '12D3KooWMallory', 5)), 'a status under another peer id is ignored')
  view.markAlive('nobody')
  t.notOk(view.has('nobody'), 'a ping answer for an unknown name adds nothing')
})
