import { pino } from 'pino'
import t from 'tap'
import { STATUS_TOPIC } from '../../src/p2p/index.js'
import { meshTestBed, startTestMesh } from '../fixtures/mesh.js'
import { daemonAddress, startOutsider, statusClaim } from '../fixtures/outsider.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// Loss reports travel in statuses (`lost`): the outsider's way to take members offline
// everywhere at once, or to make a node publish on its word. A plain libp2p peer, built
// from libp2p's own packages, publishes schema-valid statuses whose `lost` names a member
// and the node itself. In-process meshes on real libp2p and a real Redis.
const { client, dir } = await meshTestBed(t, 'forged-loss')

const [genesisPort, betaPort] = [await freePort(), await freePort()]
const lines: { msg: string, name?: string }[] = []
const root = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string }) })
const start = (name: string, port: number, other: string, otherPort: number) => startTestMesh({
  name, dir, port, redis: client, prefix: 'forged-loss:',
  peers: [{ name: other, address: `/ip4/127.0.0.1/tcp/${otherPort}` }],
  log: (component) => root.child({ component, name }),
})
const genesis = await start('genesis', genesisPort, 'beta', betaPort)
t.teardown(() => genesis.stop())
const beta = await start('beta', betaPort, 'genesis', genesisPort)
t.teardown(() => beta.stop())
await waitFor('each online at the other', () => genesis.view.stateOf('beta') === 'online' && beta.view.stateOf('genesis') === 'online',
  { timeoutMs: 20_000 })

t.test('strangers reporting a member and the node itself lost move nothing', async (t) => {
  const me = genesis.gossip.current()
  const b = { name: 'beta', started_at: beta.gossip.current().started_at, seq: beta.gossip.current().seq }
  const lost = [b, { name: 'genesis', started_at: me.started_at, seq: me.seq }]
  const linesBefore = lines.length
  // A name of its own, then each member's name, each from a stranger of its own: the first
  // refused claim may cost a stranger its connection, and every claim must reach genesis.
  const delivered: string[] = []
  for (const name of ['mallory', 'beta', 'genesis']) {
    const stranger = await startOutsider()
    t.teardown(() => stranger.stop())
    await stranger.dial(daemonAddress(`/ip4/127.0.0.1/tcp/${genesisPort}`, genesis.peerId))
    stranger.services.pubsub.subscribe(STATUS_TOPIC)
    const pubsub = stranger.services.pubsub
    await waitFor('the stranger to see genesis subscribed to status',
      () => pubsub.getSubscribers(STATUS_TOPIC).some((p) => p.equals(genesis.node.peerId)), { timeoutMs: 10_000 })
    const { recipients } = await pubsub.publish(STATUS_TOPIC, statusClaim(stranger.peerId.toString(), name, { lost }))
    if (recipients.some((p) => p.equals(genesis.node.peerId))) delivered.push(name)
  }
  t.same(delivered, ['mallory', 'beta', 'genesis'], 'each claim was sent to genesis')
  // What a taken report does happens at once (a transition, a refutation); give it well over that.
  const until = Date.now() + 1500
  while (Date.now() < until) {
    t.equal(genesis.view.stateOf('beta'), 'online', 'beta stays online at genesis')
    await new Promise((r) => setTimeout(r, 100))
  }
  const taken = lines.slice(linesBefore).filter((l) => /reported lost|refut|offline/.test(l.msg))
  t.same(taken.map((l) => `${l.name}: ${l.msg}`), [], 'no refutation, no report taken, no transition logged on either node')
  t.notOk(genesis.view.has('mallory'), 'no stranger took a name in the view')
  t.equal(beta.view.stateOf('genesis'), 'online', 'nor did anything reach beta')
})
