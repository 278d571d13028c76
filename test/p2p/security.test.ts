import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import * as varint from 'uint8-varint'
import { pino } from 'pino'
import t from 'tap'
import { RedisMessageStore, redisKeys } from '../../src/coordinator/index.js'
import { type Mesh, readPskFile } from '../../src/p2p/index.js'
import { createMeshNode } from '../../src/p2p/mesh-node.js'
import { meshTestBed, P2P_DEFAULTS, startTestMesh, TEST_STORE } from '../fixtures/mesh.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { writePskFile } from '../fixtures/psk.js'

// In-process meshes on real libp2p and a real Redis, each with its message store and its
// log lines kept: what a daemon's /health, /nodes, /messages and log would show.
const { client, dir } = await meshTestBed(t, 'security')

type LogLine = Record<string, unknown> & { msg?: string }
type Peer = { name: string, address: string, peerId?: string }
interface TestNode { mesh: Mesh, store: RedisMessageStore, logs: LogLine[], port: number }

/** Starts one mesh per name, every other one its configured peer. */
async function startNodes(
  t: { teardown(fn: () => unknown): void },
  prefix: string,
  names: string[],
  extra: (name: string) => { psk?: Uint8Array, allowlist?: string[], peers?: Peer[] } = () => ({}),
): Promise<Record<string, TestNode>> {
  const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const)))
  const nodes: Record<string, TestNode> = {}
  for (const name of names) {
    const logs: LogLine[] = []
    const dest = { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) }
    const store = new RedisMessageStore({ redis: client, keys: redisKeys(prefix), node: name, ...TEST_STORE })
    const more = extra(name)
    const mesh = await startTestMesh({
      name, dir, port: ports[name]!, redis: client, prefix, messageStore: store, psk: more.psk,
      peers: [...names.filter((p) => p !== name).map((p) => ({ name: p, address: `/ip4/127.0.0.1/tcp/${ports[p]}` })), ...(more.peers ?? [])],
      log: (component) => pino({ level: 'info' }, dest).child({ component }),
      more: more.allowlist === undefined ? {} : { allowlist: more.allowlist },
    })
    t.teardown(() => mesh.stop())
    nodes[name] = { mesh, store, logs, port: ports[name]! }
  }
  return nodes
}
const rowOf = (n: TestNode, name: string) => n.mesh.view.snapshot().find((r) => r.name === name)
const triedAndFailed = (n: TestNode, peer: string) => waitFor(`a failed dial of ${peer}`, () =>
  n.logs.some((l) => String(l.msg).startsWith(`peer ${peer} unreachable at `) && l.peer === peer))
const delivered = (receipts: Record<string, { state: string }>) => Object.values(receipts).filter((r) => r.state === 'delivered').length

t.test('a node with the wrong PSK holds no connection and receives nothing', async (t) => {
  const good = readPskFile(writePskFile())
  const bad = readPskFile(writePskFile())
  const nodes = await startNodes(t, 'psk:', ['genesis', 'follower', 'intruder'], (name) => ({ psk: name === 'intruder' ? bad : good }))
  const { genesis, follower, intruder } = nodes as Record<'genesis' | 'follower' | 'intruder', TestNode>
  await waitFor('follower online for genesis', () => genesis.mesh.view.stateOf('follower') === 'online')
  await waitFor('genesis online for follower', () => follower.mesh.view.stateOf('genesis') === 'online')
  await triedAndFailed(intruder, 'genesis')
  await triedAndFailed(intruder, 'follower')
  await triedAndFailed(genesis, 'intruder')

  t.equal(genesis.mesh.connectedPeers(), 1, 'genesis holds only the follower')
  t.equal(follower.mesh.connectedPeers(), 1, 'follower holds only genesis')
  t.equal(intruder.mesh.connectedPeers(), 0, 'the intruder holds nothing')
  t.match(rowOf(genesis, 'intruder'), { status: 'offline', reason: 'never heard' })

  const sent = await genesis.mesh.messenger.send({ to: 'intruder', body: 'secret', waitMs: 500, ttlMs: 60_000 })
  t.equal(sent.receipts.intruder?.state, 'queued', 'not delivered')
  t.equal((await intruder.store.inbox(100)).length, 0, 'the intruder received nothing')
  const toAll = await intruder.mesh.messenger.send({ to: 'all', body: 'let me in', waitMs: 500, ttlMs: 300_000 })
  t.equal(delivered(toAll.receipts), 0, 'delivered to none')
  t.equal((await genesis.store.inbox(100)).length, 0, 'genesis received nothing from the intruder')
})

t.test('a peer not on the allowlist holds no connection', async (t) => {
  const names = ['genesis', 'follower', 'stranger']
  const keys = await Promise.all(names.map(() => generateKeyPair('Ed25519')))
  const ids = keys.map((k) => peerIdFromPrivateKey(k).toString())
  // The node keys are written before the start, so each allowlist can name the others' ids.
  names.forEach((n, i) => writeFileSync(join(dir, `${n}.key`), privateKeyToProtobuf(keys[i]!), { mode: 0o600 }))
  const allow: Record<string, string[]> = { genesis: [ids[1]!], follower: [ids[0]!], stranger: [] }
  const nodes = await startNodes(t, 'allow:', names, (name) => ({ allowlist: allow[name] }))
  const { genesis, follower, stranger } = nodes as Record<'genesis' | 'follower' | 'stranger', TestNode>
  await waitFor('follower online for genesis', () => genesis.mesh.view.stateOf('follower') === 'online')
  await triedAndFailed(stranger, 'genesis')
  await triedAndFailed(stranger, 'follower')
  await triedAndFailed(genesis, 'stranger')
  t.equal(genesis.mesh.connectedPeers(), 1, 'genesis holds only the follower')
  t.equal(follower.mesh.connectedPeers(), 1)
  t.equal(stranger.mesh.connectedPeers(), 0, 'the stranger holds no connection although its dials reached the port')
  t.match(rowOf(stranger, 'genesis'), { status: 'offline' })
  t.match(rowOf(stranger, 'follower'), { status: 'offline' })
})

t.test('oversized and malformed frames from a member are rejected without a crash', async (t) => {
  const probeKey = await generateKeyPair('Ed25519')
  const probeId = peerIdFromPrivateKey(probeKey).toString()
  const probe = await createMeshNode({ privateKey: probeKey, listen: '/ip4/127.0.0.1/tcp/0', inbound: P2P_DEFAULTS.inbound })
  await probe.start()
  t.teardown(() => probe.stop())
  // The probe is a configured member (bound by peer id), so its streams are served and its bad frames judged.
  const member = { name: 'probe', address: probe.getMultiaddrs()[0]!.decapsulate('/p2p').toString(), peerId: probeId }
  const nodes = await startNodes(t, 'frames:', ['genesis', 'follower'], () => ({ peers: [member] }))
  const { genesis, follower } = nodes as Record<'genesis' | 'follower', TestNode>
  await waitFor('follower online for genesis', () => genesis.mesh.view.stateOf('follower') === 'online')

  // With the peer id in the address every stream reuses one connection (a bare
  // address dials anew each time, and libp2p limits new inbound connections per host).
  const target = multiaddr(`/ip4/127.0.0.1/tcp/${follower.port}/p2p/${follower.mesh.peerId}`)
  const enc = new TextEncoder()
  /** One length-prefixed frame, as the wire carries it. */
  const framed = (body: Uint8Array): Uint8Array => new Uint8Array([...varint.encode(body.byteLength), ...body])

  /** Sends raw bytes on a fresh stream and collects whatever comes back until the node closes it. */
  async function exchange(protocol: string, chunks: Uint8Array[]): Promise<{ replies: number, ended: boolean }> {
    const stream = await probe.dialProtocol(target, protocol, { signal: AbortSignal.timeout(5000) })
    for (const c of chunks) stream.send(c)
    let replies = 0
    try {
      for await (const _ of stream) replies++
    } catch {
      // A reset is one of the ways the node may close it.
    }
    return { replies, ended: true }
  }

  const cases: [string, string, Uint8Array[]][] = [
    ['not JSON', '/aitbc/msg/1.0.0', [framed(enc.encode('this is not json'))]],
    ['off-schema JSON', '/aitbc/msg/1.0.0', [framed(enc.encode('{"t":"msg","id":1}'))]],
    ['a 10 MB length prefix', '/aitbc/msg/1.0.0', [new Uint8Array([0x80, 0xad, 0xe2, 0x04]), new Uint8Array(1000)]],
    ['an rpc frame that is not JSON', '/aitbc/rpc/1.0.0', [framed(enc.encode('{{{'))]],
    ['an oversized rpc frame', '/aitbc/rpc/1.0.0', [new Uint8Array([0x80, 0x80, 0x80, 0x10]), new Uint8Array(1000)]],
  ]
  for (const [what, protocol, chunks] of cases) {
    const res = await exchange(protocol, chunks)
    t.equal(res.replies, 0, `${what}: no reply, stream closed`)
    t.ok(probe.getConnections(peerIdFromString(follower.mesh.peerId)).some((c) => c.status === 'open'), `${what}: the connection itself stays up`)
  }
  await waitFor('bad frames logged', () =>
    follower.logs.filter((l) => l.msg === 'bad message frame; stream closed' || l.msg === 'bad rpc frame; stream closed').length >= 5)
  t.ok(follower.logs.some((l) => /larger than/.test(String(l.err))), 'the oversized frame is named as such')

  t.equal(follower.mesh.node.status, 'started', 'the node still serves')
  const sent = await genesis.mesh.messenger.send({ to: 'follower', body: 'still works', waitMs: 5000, ttlMs: 300_000 })
  t.equal(sent.receipts.follower?.state, 'delivered', 'and still takes messages')
})
