import { generateKeyPair } from '@libp2p/crypto/keys'
import { pino } from 'pino'
import t from 'tap'
import { createMeshNode } from '../../src/p2p/mesh-node.js'
import { PeerRedialer } from '../../src/p2p/peer-redialer.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { captureWarnings } from '../fixtures/warnings.js'

// A real libp2p node redialling peers whose ports nobody listens on (a cluster of 17 with 16 down).
t.test('sixteen unreachable peers are redialled with backoff, without a listener-leak warning', async (t) => {
  const warnings = captureWarnings(t)
  const node = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0' })
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
