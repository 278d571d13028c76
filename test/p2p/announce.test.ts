import t from 'tap'
import type { Mesh, NodeView } from '../../src/p2p/index.js'
import { meshTestBed, startTestMesh } from '../fixtures/mesh.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// Three in-process meshes on real libp2p with a slow status interval: anything seen sooner
// than it came from the announcement on connect.
const { client, dir } = await meshTestBed(t, 'announce')

const NAMES = ['genesis', 'follower', 'aitbc2'] as const
type Name = typeof NAMES[number]
const ports = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await freePort()]))) as Record<Name, number>
const start = (name: Name): Promise<Mesh> => startTestMesh({
  name, dir, port: ports[name], redis: client, prefix: 'announce:', intervalMs: 20_000,
  peers: NAMES.filter((p) => p !== name).map((p) => ({ name: p, address: `/ip4/127.0.0.1/tcp/${ports[p]}` })),
  // Nothing is suspected or put offline while the test runs.
  more: { suspectAfterMs: 60_000, offlineAfterMs: 100_000 },
})
const meshes = {} as Record<Name, Mesh>
for (const name of NAMES) meshes[name] = await start(name)
t.teardown(() => Promise.all(NAMES.map((n) => meshes[n].stop())))

const row = (viewer: Mesh, name: Name): NodeView | undefined => viewer.view.snapshot().find((r) => r.name === name)

t.test('a node that (re)joins is announced to every node at once, not at the next status interval', async (t) => {
  for (const viewer of NAMES) {
    for (const n of NAMES) {
      if (n !== viewer) await waitFor(`${viewer} sees ${n}`, () => meshes[viewer].view.stateOf(n) === 'online', { timeoutMs: 20_000 })
    }
  }
  const { genesis, follower } = meshes
  // The node's key stays in dir, so the restarted mesh is the same peer, as a restarted daemon is.
  await meshes.aitbc2.stop()
  // Nothing can be heard from it now: wait until both have not heard it for a while, so that hearing it again is the new start.
  await waitFor('aitbc2 unheard for 1.5 s', () => [genesis, follower].every((v) => (row(v, 'aitbc2')?.last_seen_ms ?? 0) >= 1500), { timeoutMs: 10_000 })

  meshes.aitbc2 = await start('aitbc2')
  const started = Date.now()
  await waitFor('both to hear the restarted node', () => [genesis, follower].every((v) => {
    const r = row(v, 'aitbc2')
    return r?.status === 'online' && r.last_seen_ms !== null && r.last_seen_ms <= 1000
  }), { timeoutMs: 20_000, intervalMs: 20 })
  await waitFor('the restarted node to see both peers', () =>
    meshes.aitbc2.view.stateOf('genesis') === 'online' && meshes.aitbc2.view.stateOf('follower') === 'online', { timeoutMs: 20_000 })
  const took = Date.now() - started
  // Half the interval: only the announcement can do that. It takes 0.1-0.4 s; the margin is for a loaded machine.
  t.ok(took < 10_000, `online everywhere ${took} ms after the restart, with a 20000 ms status interval`)
})
