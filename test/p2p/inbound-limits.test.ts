import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import t, { type Test } from 'tap'
import { createMeshNode, type MeshLibp2p } from '../../src/p2p/mesh-node.js'
import { peerHostAddress } from '../../src/p2p/peer-address.js'
import { readPskFile } from '../../src/p2p/psk.js'
import { meshTestBed, P2P_DEFAULTS, startTestMesh } from '../fixtures/mesh.js'
import { startOutsider } from '../fixtures/outsider.js'
import { freePort } from '../fixtures/poll.js'
import { writePskFile } from '../fixtures/psk.js'

const { client, dir } = await meshTestBed(t, 'inbound')

/** Nine plain libp2p peers (libp2p's own packages) on this host dial the address at once; how many get a connection. */
async function burst(t: Test, address: string, opts: { psk?: Uint8Array } = {}): Promise<number> {
  const outsiders = await Promise.all(Array.from({ length: 9 }, () => startOutsider(opts)))
  t.teardown(() => Promise.all(outsiders.map((o) => o.stop())))
  const target = multiaddr(address)
  const results = await Promise.allSettled(outsiders.map((o) => o.dial(target, { signal: AbortSignal.timeout(5000) })))
  return results.filter((r) => r.status === 'fulfilled').length
}

async function meshNode(t: Test, init: Partial<Parameters<typeof createMeshNode>[0]> = {}): Promise<MeshLibp2p> {
  const n = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0', inbound: P2P_DEFAULTS.inbound, ...init })
  await n.start()
  t.teardown(() => n.stop())
  return n
}

t.test('nine peers on one host joining at once: all let in when it is a configured peer\'s host, libp2p\'s limit elsewhere', async (t) => {
  // A real Mesh whose p2p.peers name an address on this host: its configured hosts come from there.
  const mesh = await startTestMesh({
    name: 'genesis', dir, port: await freePort(), peers: [{ name: 'follower', address: `127.0.0.1:${await freePort()}` }],
    redis: client, prefix: 'inbound:',
  })
  t.teardown(() => mesh.stop())
  t.equal(await burst(t, mesh.addresses()[0]!), 9, 'a configured peer\'s host is not held to 5 connections a second')
  const plain = await meshNode(t)
  const accepted = await burst(t, plain.getMultiaddrs()[0]!.toString())
  t.ok(accepted < 9, `any other host still is (${accepted} of 9 let in)`)
})

t.test('from a configured peer\'s host, an outsider without the PSK or off the allowlist still holds no connection', async (t) => {
  const psk = readPskFile(writePskFile())
  const guarded = await meshNode(t, { psk, peerHosts: ['/ip4/127.0.0.1'] })
  t.equal(await burst(t, guarded.getMultiaddrs()[0]!.toString()), 0, 'no PSK: no connection')
  t.equal(await burst(t, guarded.getMultiaddrs()[0]!.toString(), { psk: readPskFile(writePskFile()) }), 0, 'another PSK: no connection')
  t.equal(guarded.getConnections().length, 0)

  const someoneElse = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const listed = await meshNode(t, { allowlist: [someoneElse], peerHosts: ['/ip4/127.0.0.1'] })
  await burst(t, listed.getMultiaddrs()[0]!.toString())
  t.equal(listed.getConnections().length, 0, 'off the allowlist: each connection is closed, none held')
})

t.test('a configured peer\'s host: IP addresses only, a DNS name has none yet', async (t) => {
  t.equal(peerHostAddress('10.0.0.2:7070'), '/ip4/10.0.0.2')
  t.equal(peerHostAddress('[fd00::2]:7070'), '/ip6/fd00::2')
  t.equal(peerHostAddress('/ip4/192.168.1.5/tcp/7070/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'), '/ip4/192.168.1.5')
  t.equal(peerHostAddress('genesis.example:7070'), null)
  t.throws(() => peerHostAddress('nonsense'), { code: 'ERR_PEER_ADDRESS' })
})
