import t from 'tap'
import type { Mesh } from '../../src/p2p/index.js'
import { meshTestBed, startTestMesh } from '../fixtures/mesh.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// A hub with 17 peers, all on 127.0.0.1, as a cluster on one host or behind one NAT is.
// Gossipsub's default IP-colocation penalty graylists every peer of a node with more than
// 14 peers on one address; the hub then dropped every status and listed its peers as never heard.
const LEAVES = 17
const { client, dir } = await meshTestBed(t, 'one-address')

const hubPort = await freePort()
const leafNames = Array.from({ length: LEAVES }, (_, i) => `leaf${i}`)
const leafPorts = await Promise.all(leafNames.map(() => freePort()))
const common = { dir, redis: client, prefix: 'oneaddr:', intervalMs: 1000 }
const hub = await startTestMesh({
  ...common, name: 'hub', port: hubPort, peers: leafNames.map((name, i) => ({ name, address: `/ip4/127.0.0.1/tcp/${leafPorts[i]}` })),
})
t.teardown(() => hub.stop())
const leaves: Mesh[] = []
for (const [i, name] of leafNames.entries()) {
  const leaf = await startTestMesh({ ...common, name, port: leafPorts[i]!, peers: [{ name: 'hub', address: `/ip4/127.0.0.1/tcp/${hubPort}` }] })
  leaves.push(leaf)
  t.teardown(() => leaf.stop())
}

t.test('a node with more than 14 peers on one IP address hears every one of them', async (t) => {
  await waitFor(`hub sees all ${LEAVES} leaves online`, () => leafNames.every((n) => hub.view.stateOf(n) === 'online'), { timeoutMs: 30_000 })
  const statuses = hub.view.snapshot().filter((r) => r.name.startsWith('leaf'))
  t.equal(statuses.length, LEAVES)
  t.ok(statuses.every((r) => r.status === 'online' && r.version === 'test'), 'each known by its own status')
  await waitFor('every leaf sees the hub online', () => leaves.every((l) => l.view.stateOf('hub') === 'online'), { timeoutMs: 30_000 })
  t.pass('and the hub is heard by every leaf')
})
