import { type Socket, connect } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import t, { type Test } from 'tap'
import { createMeshNode, type MeshLibp2p } from '../../src/p2p/mesh-node.js'
import { hostKey } from '../../src/p2p/pending-inbound.js'
import { readPskFile } from '../../src/p2p/psk.js'
import { P2P_DEFAULTS } from '../fixtures/mesh.js'
import { startOutsider } from '../fixtures/outsider.js'
import { waitFor } from '../fixtures/poll.js'
import { writePskFile } from '../fixtures/psk.js'

const psk = readPskFile(writePskFile())
/** The eight attacking hosts of the report. */
const ATTACKERS = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`)

async function meshNode(t: Test, init: Partial<Parameters<typeof createMeshNode>[0]> = {}): Promise<MeshLibp2p> {
  const n = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0', inbound: P2P_DEFAULTS.inbound, ...init })
  await n.start()
  t.teardown(() => n.stop())
  return n
}

function portOf(node: MeshLibp2p): number {
  return Number(node.getMultiaddrs()[0]!.getComponents().find((c) => c.name === 'tcp')!.value)
}

/**
 * Peers without the key: from each host, `perHost` TCP sockets to the port
 * that never send a byte, each reopened shortly after the node closes it.
 */
function idleSockets(port: number, hosts: readonly string[], perHost: number): { opened: () => number, stop: () => void } {
  const sockets = new Set<Socket>()
  let stopped = false
  let opened = 0
  const open = (host: string): void => {
    if (stopped) return
    const s = connect({ host: '127.0.0.1', port, localAddress: host })
    opened++
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => {
      sockets.delete(s)
      setTimeout(() => open(host), 100)
    })
  }
  for (const host of hosts) for (let i = 0; i < perHost; i++) open(host)
  return {
    opened: () => opened,
    stop: () => {
      stopped = true
      for (const s of sockets) s.destroy()
    },
  }
}

/** Whether a fresh PSK-holding peer dialling from `from` holds a connection within 5 s. */
async function joins(t: Test, target: string, from: string): Promise<boolean> {
  const peer = await startOutsider({ psk, dialFrom: from })
  t.teardown(() => peer.stop())
  try {
    const c = await peer.dial(multiaddr(target), { signal: AbortSignal.timeout(5000) })
    return c.status === 'open'
  } catch {
    return false
  }
}

t.test('idle sockets from 8 hosts: a new peer from another host and a configured peer both get in', async (t) => {
  const drops: Record<string, number> = {}
  const node = await meshNode(t, {
    psk,
    peerHosts: ['/ip4/127.0.0.1'],
    onInboundDrop: (reason) => {
      drops[reason] = (drops[reason] ?? 0) + 1
    },
  })
  const target = node.getMultiaddrs()[0]!.toString()
  const attack = idleSockets(portOf(node), ATTACKERS, 6)
  t.teardown(() => attack.stop())
  // The attack is under way: every attacking host has had sockets accepted and closed.
  await waitFor('the attack to be under way', () => attack.opened() > ATTACKERS.length * 12, { timeoutMs: 10_000 })

  // Peers that join through this node as their seed: no config here lists their address.
  const newcomers = Array.from({ length: 10 }, (_, i) => `127.0.0.${20 + i}`)
  const joined: string[] = []
  let slowest = 0
  for (const from of newcomers) {
    const started = Date.now()
    if (await joins(t, target, from)) joined.push(from)
    slowest = Math.max(slowest, Date.now() - started)
  }
  t.same(joined, newcomers, `every new peer from an unlisted host held a connection within 5 s (${joined.length} of ${newcomers.length}, slowest ${slowest} ms)`)
  t.ok(await joins(t, target, '127.0.0.1'), 'a peer from a configured peer\'s host got in')
  t.ok((drops.host_pending ?? 0) > 0, `sockets past the per-host bound were refused and counted (${drops.host_pending ?? 0})`)
  attack.stop()
})

t.test('a socket that never finishes its handshake is closed after handshakeTimeoutMs, unless from a configured peer\'s host', async (t) => {
  const drops: string[] = []
  // No PSK: the noise handshake alone would wait libp2p's 10 s upgrade timeout.
  const node = await meshNode(t, {
    peerHosts: ['/ip4/127.0.0.1'],
    inbound: { maxPending: 256, maxPendingPerHost: 4, handshakeTimeoutMs: 500 },
    onInboundDrop: (reason) => drops.push(reason),
  })
  const closed = new Set<string>()
  for (const host of ['127.0.0.1', '127.0.0.2']) {
    const s = connect({ host: '127.0.0.1', port: portOf(node), localAddress: host })
    s.on('error', () => {})
    s.on('close', () => closed.add(host))
    t.teardown(() => s.destroy())
  }
  const started = Date.now()
  await waitFor('the unknown host\'s idle socket to be closed', () => closed.has('127.0.0.2'), { timeoutMs: 4000 })
  t.ok(Date.now() - started < 4000, `closed after ${Date.now() - started} ms`)
  t.notOk(closed.has('127.0.0.1'), 'the configured peer\'s host keeps libp2p\'s longer upgrade timeout')
  t.same(drops, ['handshake_timeout'], 'counted')
})

t.test('a host\'s slot is freed when its connection closes or is upgraded, not only at the deadline', async (t) => {
  const drops: string[] = []
  const node = await meshNode(t, {
    psk,
    inbound: { maxPending: 256, maxPendingPerHost: 1, handshakeTimeoutMs: 30_000 },
    onInboundDrop: (reason) => drops.push(reason),
  })
  const host = '127.0.0.40'
  const idle = () => {
    const s = connect({ host: '127.0.0.1', port: portOf(node), localAddress: host })
    s.on('error', () => {})
    t.teardown(() => s.destroy())
    return s
  }
  const first = idle()
  idle()
  await waitFor('the second socket from the host to be refused', () => drops.includes('host_pending'))
  first.destroy()
  const target = node.getMultiaddrs()[0]!.toString()
  await waitFor('a peer from the host to get in once the idle socket closed', () => joins(t, target, host), { timeoutMs: 15_000, intervalMs: 300 })
  t.ok(await joins(t, target, host), 'and another after it: the upgraded one no longer holds the slot')
  t.same(drops, ['host_pending'])
})

t.test('all unknown hosts together hold at most maxPending; a configured peer\'s host still gets in', async (t) => {
  const drops: string[] = []
  const node = await meshNode(t, {
    psk,
    peerHosts: ['/ip4/127.0.0.1'],
    inbound: { maxPending: 3, maxPendingPerHost: 1, handshakeTimeoutMs: 30_000 },
    onInboundDrop: (reason) => drops.push(reason),
  })
  const attack = idleSockets(portOf(node), ATTACKERS.slice(0, 4), 1)
  t.teardown(() => attack.stop())
  await waitFor('the fourth host to be refused', () => drops.includes('total_pending'))
  t.notOk(drops.includes('host_pending'), 'not for its own bound')
  t.ok(await joins(t, node.getMultiaddrs()[0]!.toString(), '127.0.0.1'), 'a peer from a configured peer\'s host got in')
  attack.stop()
})

t.test('per-host slots: one IPv4 address, or one IPv6 /64', async (t) => {
  t.equal(hostKey('10.0.0.7'), '10.0.0.7')
  t.equal(hostKey('::ffff:10.0.0.7'), '10.0.0.7')
  t.equal(hostKey('2001:db8:0:1::5'), '2001:db8:0:1::/64')
  t.equal(hostKey('2001:db8:0:1:ffff:1:2:3'), '2001:db8:0:1::/64')
  t.equal(hostKey('2001:0db8::1'), '2001:db8:0:0::/64')
  t.equal(hostKey('::1'), '0:0:0:0::/64')
})
