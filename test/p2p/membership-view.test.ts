import { pino } from 'pino'
import t from 'tap'
import { MembershipView, type NodeTransition } from '../../src/p2p/membership-view.js'
import { NameBindings } from '../../src/p2p/name-bindings.js'
import { nodeStatus, type NodeStatus } from '../../src/p2p/node-status.js'

// In-process: the view's rules on a clock the test moves. Names are bound by configuration,
// so the shared store is never asked.
const SELF = { name: 'alpha', peerId: '12D3KooWAlpha' }
const BETA = { name: 'beta', peerId: '12D3KooWBeta', address: '/ip4/127.0.0.1/tcp/1' }

const GAMMA = { name: 'gamma', peerId: '12D3KooWGamma', address: '/ip4/127.0.0.1/tcp/2' }

function setup(others: typeof BETA[] = [BETA], slack = (): number => 1, linked: ReadonlySet<string> = new Set()) {
  let now = 1000
  const transitions: NodeTransition[] = []
  const losses: string[] = []
  const disputed: string[] = []
  const accusers: string[] = []
  const bindings = new NameBindings({
    selfName: SELF.name,
    selfPeerId: SELF.peerId,
    configured: others,
    store: { all: () => Promise.reject(new Error('unused')), pin: () => Promise.reject(new Error('unused')), forget: () => Promise.reject(new Error('unused')) },
    log: pino({ level: 'silent' }),
  })
  const view = new MembershipView({
    selfName: SELF.name,
    suspectAfterMs: 3000,
    offlineAfterMs: 5000,
    peers: others,
    bindings,
    selfStatus: () => status(SELF.name, SELF.peerId, 0),
    onTransition: (tr) => transitions.push(tr),
    onFirstHandLoss: (name) => losses.push(name),
    onReportDisputed: (name, by) => disputed.push(`${name} by ${by}`),
    canCheck: (name) => linked.has(name),
    onAccused: (by) => accusers.push(by),
    now: () => now,
    slack,
  })
  const advance = (ms: number): void => {
    now += ms
    view.tick()
  }
  return { view, transitions, losses, disputed, accusers, advance }
}

function status(name: string, peerId: string, seq: number): NodeStatus {
  return {
    name, peer_id: peerId, seq, time: Date.now(), started_at: 1, uptime_s: 1, chain: null, last_sync: null, p2p_connections: 1,
    links: [], lost: [], version: 'test', git_head: null, running_ops: 0, coordinator_url: null, addresses: [], health: 'ok', problems: [],
    registry: { cluster_id: null, host: 'test', db: 0, prefix: 'p:' },
  }
}

const row = (view: MembershipView) => view.snapshot().find((r) => r.name === 'beta')!

t.test('an overloaded node stretches its own unheard timeouts by its local health multiplier', async (t) => {
  let multiplier = 1
  const { view, advance } = setup([BETA], () => multiplier)
  view.observe(status('beta', BETA.peerId, 1))
  multiplier = 3
  advance(5000)
  t.equal(view.stateOf('beta'), 'online', 'unheard 5 s, with 3x slack: still online (suspect at 9 s)')
  advance(5000)
  t.equal(view.stateOf('beta'), 'degraded', 'unheard 10 s: degraded (offline at 15 s)')
  multiplier = 1
  advance(0)
  t.equal(view.stateOf('beta'), 'offline', 'healthy again: the configured 5 s apply at once')
})

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

t.test('a node another member lost is offline here at once, unless heard since or answering our pings', async (t) => {
  const { view, advance, disputed } = setup([BETA, GAMMA])
  view.observe(status('beta', BETA.peerId, 4))
  view.observe(status('gamma', GAMMA.peerId, 1))
  const gammaSays = (seq: number, lost: NodeStatus['lost']) => view.observe({ ...status('gamma', GAMMA.peerId, seq), lost })

  gammaSays(2, [{ name: 'beta', started_at: 1, seq: 3 }])
  t.equal(view.stateOf('beta'), 'online', 'a report older than the status we have: ignored')
  view.markAlive('beta')
  gammaSays(3, [{ name: 'beta', started_at: 1, seq: 4 }])
  t.equal(view.stateOf('beta'), 'online', 'beta answered our ping just now: our own evidence wins')
  t.same(disputed, ['beta by gamma'], 'and the report is handed on to be checked with a ping now')
  advance(2000)
  gammaSays(4, [{ name: 'beta', started_at: 1, seq: 4 }])
  t.match(row(view), { status: 'offline', reason: 'reported lost by gamma, and not heard here since' }, 'no ping lately: offline at once')
  t.same(view.lostHere(), [], 'a second-hand loss is not passed on')
  t.same(disputed, ['beta by gamma'], 'a report taken is not checked again')
  gammaSays(5, [{ name: 'alpha', started_at: 1, seq: 9 }, { name: 'gamma', started_at: 1, seq: 1 }])
  t.equal(view.snapshot()[0]!.status, 'online', 'a report about this node changes nothing here')
  t.equal(view.stateOf('gamma'), 'online', 'nor one about the reporter itself')

  view.observe(status('beta', BETA.peerId, 5))
  t.equal(view.stateOf('beta'), 'online', 'a newer status from beta: online again')
  gammaSays(6, [{ name: 'beta', started_at: 1, seq: 4 }])
  t.equal(view.stateOf('beta'), 'online', 'the reporter repeating its old loss changes nothing after that')
})

t.test('a report of a member this node holds a link to is checked, not taken: one member\'s word moves nothing', async (t) => {
  const { view, advance, disputed, transitions } = setup([BETA, GAMMA], () => 1, new Set(['beta']))
  view.observe(status('beta', BETA.peerId, 4))
  view.observe(status('gamma', GAMMA.peerId, 1))
  advance(2500)
  const before = transitions.length
  view.observe({ ...status('gamma', GAMMA.peerId, 2), lost: [{ name: 'beta', started_at: 1, seq: 4 }] })
  t.equal(view.stateOf('beta'), 'online', 'no ping for 2.5 s, but a link to check it on: not taken')
  t.same(disputed, ['beta by gamma'], 'handed on to be pinged now')
  t.equal(transitions.length, before, 'no transition at all')
  view.markReportConfirmed('beta', 'reported lost by gamma, and no answer to a ping from alpha either')
  t.match(row(view), { status: 'offline', reason: /no answer to a ping from alpha/ }, 'the check failing takes it offline')
  t.same(view.lostHere(), [], 'second-hand: not passed on (a check failed by a slow node must not start a report of its own)')
  view.observe(status('beta', BETA.peerId, 5))
  t.equal(view.stateOf('beta'), 'online', 'a newer status from beta brings it back')
})

t.test('a node reported lost refutes it, for its own run only', async (t) => {
  const { view, accusers } = setup([BETA, GAMMA])
  view.observe(status('gamma', GAMMA.peerId, 1))
  view.observe({ ...status('gamma', GAMMA.peerId, 2), lost: [{ name: 'alpha', started_at: 1, seq: 7 }] })
  t.same(accusers, [], 'a seq this node never published (its last is 0 here) is no report of it: a member cannot make it answer a made-up one')
  view.observe({ ...status('gamma', GAMMA.peerId, 5), lost: [{ name: 'alpha', started_at: 1, seq: 0 }] })
  t.same(accusers, ['gamma'], 'its latest status (started_at 1, seq 0): told to publish a fresh one')
  view.observe({ ...status('gamma', GAMMA.peerId, 6), lost: [{ name: 'alpha', started_at: 0, seq: 7 }] })
  t.same(accusers, ['gamma'], 'a loss of an earlier run of this node needs no answer')
  view.observe({ ...status('gamma', GAMMA.peerId, 7), lost: [{ name: 'alpha', started_at: 1, seq: -1 }] })
  t.same(accusers, ['gamma'], 'nor one of a status older than the one this node last published (seq 0 here)')
  t.equal(view.snapshot()[0]!.status, 'online', 'and its own row never changes for a report')
})

t.test('members this node lost are listed with their last status, and each first loss is signalled once', async (t) => {
  const { view, losses } = setup([BETA, GAMMA])
  view.observe(status('beta', BETA.peerId, 7))
  view.observe(status('gamma', GAMMA.peerId, 2))
  view.markLost('beta', 'connection lost and redial failed')
  view.markLost('beta', 'connection lost and redial failed')
  view.markUnreachable('gamma', 'no answer to pings')
  t.same(view.lostHere(), [{ name: 'beta', started_at: 1, seq: 7 }, { name: 'gamma', started_at: 1, seq: 2 }])
  t.same(losses, ['beta', 'gamma'], 'one signal per loss (for a status at once)')
  view.markAlive('gamma')
  t.same(view.lostHere().map((l) => l.name), ['beta'], 'an answered ping takes it off the list')
})

t.test('a status\'s lost list is bounded like the rest of it', async (t) => {
  const one = { name: 'beta', started_at: 1, seq: 1 }
  t.ok(nodeStatus.safeParse({ ...status('gamma', GAMMA.peerId, 1), lost: [one] }).success)
  t.notOk(nodeStatus.safeParse({ ...status('gamma', GAMMA.peerId, 1), lost: Array.from({ length: 257 }, () => one) }).success, '257 entries: refused')
  t.notOk(nodeStatus.safeParse({ ...status('gamma', GAMMA.peerId, 1), lost: [{ ...one, name: 'x'.repeat(64) }] }).success, 'a name of 64: refused')
  t.notOk(nodeStatus.safeParse({ ...status('gamma', GAMMA.peerId, 1), lost: [{ ...one, extra: 1 }] }).success, 'an unknown key: refused')
})

t.test('a member\'s uptime runs on between its statuses (a connected one re-sends it only on change)', async (t) => {
  const { view, advance } = setup()
  view.observe({ ...status('beta', BETA.peerId, 1), uptime_s: 100 })
  t.equal(row(view).service_uptime, '1m 40s')
  advance(2500)
  view.markAlive('beta')
  t.equal(row(view).service_uptime, '1m 42s', '2.5 s later, with no new status')
})
