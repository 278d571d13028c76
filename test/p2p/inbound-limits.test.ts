import { generateKeyPair } from '@libp2p/crypto/keys'
import t, { type Test } from 'tap'
import { createMeshNode, type MeshLibp2p } from '../../src/p2p/mesh-node.js'
import { peerHostAddress } from '../../src/p2p/peer-address.js'

async function node(peerHosts?: string[]): Promise<MeshLibp2p> {
  const n = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0', peerHosts })
  await n.start()
  return n
}

/** Nine real libp2p nodes on this host dial the target at once; how many get a connection. */
async function burst(t: Test, target: MeshLibp2p): Promise<number> {
  const dialers = await Promise.all(Array.from({ length: 9 }, () => node()))
  t.teardown(() => Promise.all(dialers.map((d) => d.stop())))
  const results = await Promise.allSettled(dialers.map((d) => d.dial(target.getMultiaddrs()[0]!)))
  return results.filter((r) => r.status === 'fulfilled').length
}

t.test('nine nodes on one host joining at once: all let in from a configured peer\'s host, libp2p\'s limit elsewhere', async (t) => {
  const open = await node(['/ip4/127.0.0.1'])
  t.teardown(() => open.stop())
  t.equal(await burst(t, open), 9, 'a configured peer\'s host is not held to 5 connections a second')
  const plain = await node()
  t.teardown(() => plain.stop())
  const accepted = await burst(t, plain)
  t.ok(accepted < 9, `any other host still is (${accepted} of 9 let in)`)
})

t.test('a configured peer\'s host: IP addresses only, a DNS name has none yet', async (t) => {
  t.equal(peerHostAddress('10.0.0.2:7070'), '/ip4/10.0.0.2')
  t.equal(peerHostAddress('[fd00::2]:7070'), '/ip6/fd00::2')
  t.equal(peerHostAddress('/ip4/192.168.1.5/tcp/7070/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'), '/ip4/192.168.1.5')
  t.equal(peerHostAddress('genesis.example:7070'), null)
  t.throws(() => peerHostAddress('nonsense'), { code: 'ERR_PEER_ADDRESS' })
})
