import t from 'tap'
import { meshTestBed, startTestMesh } from '../fixtures/mesh.js'
import { daemonAddress, startOutsider } from '../fixtures/outsider.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// The admission rule on the wire (PeerAdmission, wired by Mesh.create): a plain libp2p
// peer built from libp2p's own packages connects and never proves a cluster name; the
// node closes its connection once the grace has passed, while a member that did prove
// its name keeps its own. In-process meshes on real libp2p and a real Redis.
const GRACE_MS = 2000
const { client, dir } = await meshTestBed(t, 'unnamed')

t.test('a peer that never proves a cluster name is disconnected after the grace; a member stays', async (t) => {
  const [genesisPort, betaPort] = [await freePort(), await freePort()]
  const start = (name: string, port: number, other: string, otherPort: number) => startTestMesh({
    name, dir, port, redis: client, prefix: 'unnamed:',
    peers: [{ name: other, address: `/ip4/127.0.0.1/tcp/${otherPort}` }],
    more: { unknownPeerGraceMs: GRACE_MS },
  })
  const genesis = await start('genesis', genesisPort, 'beta', betaPort)
  t.teardown(() => genesis.stop())
  const beta = await start('beta', betaPort, 'genesis', genesisPort)
  t.teardown(() => beta.stop())
  await waitFor('beta online at genesis', () => genesis.view.stateOf('beta') === 'online', { timeoutMs: 20_000 })

  const stranger = await startOutsider()
  t.teardown(() => stranger.stop())
  const dialledAt = Date.now()
  await stranger.dial(daemonAddress(`/ip4/127.0.0.1/tcp/${genesisPort}`, genesis.peerId))
  // The listener registers the connection a moment after the dialler has it.
  await waitFor('genesis to hold the stranger\'s connection', () => genesis.node.getConnections(stranger.peerId).length > 0,
    { timeoutMs: 5000, intervalMs: 5 })
  t.pass('the stranger got a connection (a handshake is no membership)')
  await waitFor('the stranger disconnected', () => genesis.node.getConnections(stranger.peerId).length === 0 &&
    stranger.getConnections().length === 0, { timeoutMs: 15_000 })
  const heldMs = Date.now() - dialledAt
  t.ok(heldMs >= GRACE_MS, `closed ${heldMs} ms after the dial: not before the grace`)

  t.ok(genesis.node.getConnections(beta.node.peerId).length > 0, 'the member that proved its name keeps its connection')
  t.equal(genesis.view.stateOf('beta'), 'online', 'and stays online')
  t.notOk(genesis.view.snapshot().some((r) => r.peer_id === stranger.peerId.toString()), 'the stranger is in no row of the view')
})
