import { createServer, type Socket } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pino } from 'pino'
import t from 'tap'
import { createMeshNode } from '../../src/p2p/mesh-node.js'
import { PeerRedialer } from '../../src/p2p/peer-redialer.js'
import { P2P_DEFAULTS } from '../fixtures/mesh.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { captureWarnings } from '../fixtures/warnings.js'

// A real libp2p node redialling peers whose ports nobody listens on (a cluster of 17 with 16 down).
t.test('sixteen unreachable peers are redialled with backoff, without a listener-leak warning', async (t) => {
  const warnings = captureWarnings(t)
  const node = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0', inbound: P2P_DEFAULTS.inbound })
  await node.start()
  t.teardown(() => node.stop())
  const peers = await Promise.all(Array.from({ length: 16 }, async (_, i) => ({ name: `down${i}`, address: `127.0.0.1:${await freePort()}` })))
  const lines: { msg: string, peer?: string }[] = []
  const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string, peer?: string }) })
  const redialer = new PeerRedialer({ node, peers, log, minBackoffMs: 50, maxBackoffMs: 200 })
  redialer.start()
  t.teardown(() => redialer.stop())
  // Every loop has failed at least twice: each has waited on the shared stop signal, all at once.
  await waitFor('each peer redialled after a failure', () => peers.every((p) =>
    lines.filter((l) => l.peer === p.name && /unreachable|redial failed/.test(l.msg)).length >= 2), { timeoutMs: 15_000 })
  await new Promise((r) => setImmediate(r))
  t.same(warnings.listenerLeaks(), [], 'no MaxListenersExceededWarning')
  t.equal(lines.filter((l) => /unreachable at/.test(l.msg)).length, 16, 'each unreachable peer is warned about once, then retried quietly')
  await redialer.stop()
  t.pass('stops with every loop ended')
})

t.test('a peer that closes each connection as soon as it is made (its allowlist refuses us) is redialled with backoff, not in a loop', async (t) => {
  const someoneElse = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const strict = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0', allowlist: [someoneElse], inbound: P2P_DEFAULTS.inbound })
  await strict.start()
  t.teardown(() => strict.stop())
  const node = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0', inbound: P2P_DEFAULTS.inbound })
  await node.start()
  t.teardown(() => node.stop())
  const lines: { msg: string, err?: string, level: number }[] = []
  const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string, err?: string, level: number }) })
  const redialer = new PeerRedialer({ node, peers: [{ name: 'strict', address: strict.getMultiaddrs()[0]!.decapsulate('/p2p').toString() }], log })
  const started = performance.now()
  redialer.start()
  t.teardown(() => redialer.stop())
  await waitFor('a refused connection counted as a failed dial', () => lines.some((l) => /unreachable at/.test(l.msg)), { timeoutMs: 10_000 })
  t.match(lines.find((l) => /unreachable at/.test(l.msg))?.err, /closed the connection \d+ ms after it was made/)
  await waitFor('three seconds of redialling', () => performance.now() - started > 3000, { timeoutMs: 5000, intervalMs: 100 })
  const attempts = lines.filter((l) => /^connected to peer/.test(l.msg)).length
  t.ok(attempts >= 2 && attempts <= 8, `${attempts} connections in 3 s (backoff from 250 ms), not one per round trip`)
  t.equal(lines.filter((l) => l.msg === 'connected to peer' && l.level === 30).length, 1, 'only the first is logged at info')
})

// Six peers whose sockets accept and then say nothing: each dial hangs in its handshake until
// the dial timeout (300 ms). Without the bound all six are dialled within the 60 ms start spread;
// with maxParallelDials 2, no three dials start within one timeout.
t.test('at most maxParallelDials dials are in flight; the others wait their turn and still get it', async (t) => {
  const opened: { at: number, peer: number }[] = []
  const sockets: Socket[] = []
  const servers = await Promise.all(Array.from({ length: 6 }, async (_, i) => {
    const server = createServer((socket) => {
      opened.push({ at: performance.now(), peer: i })
      sockets.push(socket)
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => {
      server.close(() => resolve())
      for (const s of sockets) s.destroy()
    }))
    return server
  }))
  const node = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0', inbound: P2P_DEFAULTS.inbound })
  await node.start()
  t.teardown(() => node.stop())
  const peers = servers.map((s, i) => ({ name: `mute${i}`, address: `127.0.0.1:${(s.address() as { port: number }).port}` }))
  const redialer = new PeerRedialer({ node, peers, log: pino({ level: 'silent' }), maxParallelDials: 2, dialTimeoutMs: 300, minBackoffMs: 50, maxBackoffMs: 100 })
  redialer.start()
  t.teardown(() => redialer.stop())
  await waitFor('every mute peer dialled', () => new Set(opened.map((o) => o.peer)).size === 6, { timeoutMs: 15_000 })
  await redialer.stop()
  // Each dial holds its slot until its 300 ms timeout: a third start needs one of the first two to end.
  const crowded = opened.filter((o, i) => i >= 2 && o.at - opened[i - 2]!.at < 250)
  t.same(crowded, [], `no three dials started within 250 ms (starts at ${opened.map((o) => Math.round(o.at - opened[0]!.at)).join(', ')} ms)`)
})
