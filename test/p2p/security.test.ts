import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'
import t from 'tap'
import { createMeshNode } from '../../src/p2p/mesh-node.js'
import { type ClusterNode, FAST_MESH, startCluster, stopCluster, waitForState } from '../fixtures/cluster.js'
import { api, BIN, type TestDaemon } from '../fixtures/daemon.js'
import { P2P_DEFAULTS } from '../fixtures/mesh.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
t.teardown(() => redis.stop())

const health = async (d: TestDaemon) => (await api(d.url, 'GET', '/health')).body as { checks: { mesh: { connected_peers: number } } }
const connectedPeers = async (d: TestDaemon) => (await health(d)).checks.mesh.connected_peers
const byName = (nodes: ClusterNode[], n: string): TestDaemon => nodes.find((c) => c.name === n)!.daemon
const triedAndFailed = (d: TestDaemon, peer: string) =>
  d.waitForLog(`a failed dial of ${peer}`, (l) => String(l.msg).startsWith(`peer ${peer} unreachable at `) && l.peer === peer)

t.test('a node with the wrong PSK holds no connection and receives nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aitbc-psk-'))
  const good = join(dir, 'good.key')
  const bad = join(dir, 'bad.key')
  writeFileSync(good, execFileSync(process.execPath, [BIN, 'keygen', 'psk']), { mode: 0o600 })
  writeFileSync(bad, execFileSync(process.execPath, [BIN, 'keygen', 'psk']), { mode: 0o600 })
  const nodes = await startCluster({
    names: ['genesis', 'follower', 'intruder'],
    redisUrl: redis.url,
    args: [...FAST_MESH, '--set', 'redis.prefix="psk:"'],
    nodeOptions: (name) => ({ env: { AITBC_P2P_PSK_FILE: name === 'intruder' ? bad : good } }),
  })
  t.teardown(() => stopCluster(nodes))
  const [genesis, follower, intruder] = ['genesis', 'follower', 'intruder'].map((n) => byName(nodes, n)) as [TestDaemon, TestDaemon, TestDaemon]
  await waitForState(genesis, 'follower', 'online')
  await waitForState(follower, 'genesis', 'online')
  await triedAndFailed(intruder, 'genesis')
  await triedAndFailed(intruder, 'follower')
  await triedAndFailed(genesis, 'intruder')

  t.equal(await connectedPeers(genesis), 1, 'genesis holds only the follower')
  t.equal(await connectedPeers(follower), 1, 'follower holds only genesis')
  t.equal(await connectedPeers(intruder), 0, 'the intruder holds nothing')
  t.match((await api(genesis.url, 'GET', '/nodes')).body.nodes_status, { intruder: { status: 'offline', reason: 'never heard' } })

  const sent = await api(genesis.url, 'POST', '/messages', { to: 'intruder', body: 'secret', wait_ms: 500, ttl_ms: 60_000 })
  t.equal((sent.body.receipts as Record<string, { state: string }>).intruder?.state, 'queued', 'not delivered')
  const inbox = await api(intruder.url, 'GET', '/messages/inbox')
  t.equal(inbox.body.count, 0, 'the intruder received nothing')
  const toAll = await api(intruder.url, 'POST', '/messages', { to: 'all', body: 'let me in', wait_ms: 500 })
  t.match(toAll.body.message_delivery, { delivered: 0 })
  t.equal((await api(genesis.url, 'GET', '/messages/inbox')).body.count, 0, 'genesis received nothing from the intruder')
})

t.test('a peer not on the allowlist holds no connection', async (t) => {
  const keys = await Promise.all([0, 1, 2].map(() => generateKeyPair('Ed25519')))
  const ids = keys.map((k) => peerIdFromPrivateKey(k).toString())
  const names = ['genesis', 'follower', 'stranger']
  const dirs = names.map((n, i) => {
    const d = mkdtempSync(join(tmpdir(), `aitbc-allow-${n}-`))
    writeFileSync(join(d, 'node.key'), privateKeyToProtobuf(keys[i]!), { mode: 0o600 })
    return d
  })
  const allow: Record<string, string[]> = { genesis: [ids[1]!], follower: [ids[0]!], stranger: [] }
  const nodes = await startCluster({
    names,
    redisUrl: redis.url,
    args: [...FAST_MESH, '--set', 'redis.prefix="allow:"'],
    nodeOptions: (name, i) => ({ dataDir: dirs[i], args: ['--set', `p2p.allowlist=${JSON.stringify(allow[name])}`] }),
  })
  t.teardown(() => stopCluster(nodes))
  const [genesis, follower, stranger] = names.map((n) => byName(nodes, n)) as [TestDaemon, TestDaemon, TestDaemon]
  await waitForState(genesis, 'follower', 'online')
  await triedAndFailed(stranger, 'genesis')
  await triedAndFailed(stranger, 'follower')
  await triedAndFailed(genesis, 'stranger')
  t.equal(await connectedPeers(genesis), 1, 'genesis holds only the follower')
  t.equal(await connectedPeers(follower), 1)
  t.equal(await connectedPeers(stranger), 0, 'the stranger holds no connection although its dials reached the port')
  t.match((await api(stranger.url, 'GET', '/nodes')).body.nodes_status, { genesis: { status: 'offline' }, follower: { status: 'offline' } })
})

t.test('oversized and malformed frames from a member are rejected without a crash', async (t) => {
  const probeKey = await generateKeyPair('Ed25519')
  const probeId = peerIdFromPrivateKey(probeKey).toString()
  const probe = await createMeshNode({ privateKey: probeKey, listen: '/ip4/127.0.0.1/tcp/0', inbound: P2P_DEFAULTS.inbound })
  await probe.start()
  t.teardown(() => probe.stop())
  // The probe is a configured member (bound by peer id), so its streams are served and its bad frames judged.
  const member = ['--peer', `probe=${probe.getMultiaddrs()[0]!.decapsulate('/p2p').toString()}@${probeId}`]
  const nodes = await startCluster({
    names: ['genesis', 'follower'],
    redisUrl: redis.url,
    args: [...FAST_MESH, '--set', 'redis.prefix="frames:"', ...member],
  })
  t.teardown(() => stopCluster(nodes))
  const [genesis, follower] = ['genesis', 'follower'].map((n) => byName(nodes, n)) as [TestDaemon, TestDaemon]
  await waitForState(genesis, 'follower', 'online')

  // With the peer id in the address every stream reuses one connection (a bare
  // address dials anew each time, and libp2p limits new inbound connections per host).
  const followerId = String(follower.logs.find((l) => l.msg === 'daemon ready')?.peerId)
  const target = multiaddr(`${nodes.find((n) => n.name === 'follower')!.p2pAddress}/p2p/${followerId}`)
  const enc = new TextEncoder()

  /** Sends raw bytes on a fresh stream and collects whatever comes back until the daemon closes it. */
  async function exchange(protocol: string, chunks: Uint8Array[]): Promise<{ replies: number, ended: boolean }> {
    const stream = await probe.dialProtocol(target, protocol, { signal: AbortSignal.timeout(5000) })
    void stream.sink((async function* () {
      yield* chunks
    })()).catch(() => {})
    let replies = 0
    try {
      for await (const _ of stream.source) replies++
    } catch {
      // A reset is one of the ways the daemon may close it.
    }
    return { replies, ended: true }
  }

  const cases: [string, string, Uint8Array[]][] = [
    ['not JSON', '/aitbc/msg/1.0.0', [lp.encode.single(enc.encode('this is not json')).subarray()]],
    ['off-schema JSON', '/aitbc/msg/1.0.0', [lp.encode.single(enc.encode('{"t":"msg","id":1}')).subarray()]],
    ['a 10 MB length prefix', '/aitbc/msg/1.0.0', [new Uint8Array([0x80, 0xad, 0xe2, 0x04]), new Uint8Array(1000)]],
    ['an rpc frame that is not JSON', '/aitbc/rpc/1.0.0', [lp.encode.single(enc.encode('{{{')).subarray()]],
    ['an oversized rpc frame', '/aitbc/rpc/1.0.0', [new Uint8Array([0x80, 0x80, 0x80, 0x10]), new Uint8Array(1000)]],
  ]
  for (const [what, protocol, chunks] of cases) {
    const res = await exchange(protocol, chunks)
    t.equal(res.replies, 0, `${what}: no reply, stream closed`)
    t.ok(probe.getConnections(target.getPeerId() === null ? undefined : peerIdFromString(target.getPeerId()!)).some((c) => c.status === 'open'), `${what}: the connection itself stays up`)
  }
  await waitFor('bad frames logged', () =>
    follower.logs.filter((l) => l.msg === 'bad message frame; stream closed' || l.msg === 'bad rpc frame; stream closed').length >= 5)
  t.ok(follower.logs.some((l) => /larger than/.test(String(l.err))), 'the oversized frame is named as such')

  t.equal((await api(follower.url, 'GET', '/health')).status, 200, 'the daemon still serves')
  const sent = await api(genesis.url, 'POST', '/messages', { to: 'follower', body: 'still works' })
  t.equal((sent.body.receipts as Record<string, { state: string }>).follower?.state, 'delivered', 'and still takes messages')
})
