import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import t, { type Test } from 'tap'
import { api, startDaemon, type TestDaemon } from '../fixtures/daemon.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { libp2pVersion, type PreviousRelease, previousRelease } from '../fixtures/previous-release.js'
import { writePskFile } from '../fixtures/psk.js'
import { startRedis } from '../fixtures/redis-server.js'

/**
 * The last release on libp2p 2.x: main just before the move to libp2p 3.x. A
 * cluster is upgraded a node at a time, so this tree's daemon must keep
 * working with that one (wire formats, protocol ids, the key, name bindings).
 */
const PREVIOUS_RELEASE = '95efcea2b9cd84ebddd7d4d1ad19deb527fa5709'

// A cold cache builds the previous release first: npm ci and its build, at nice 10 on a busy machine.
const BUILD_TIMEOUT_MS = 600_000
/** How long the two daemons get to see each other, deliver, or answer (the machine is loaded). */
const WAIT_MS = 30_000
t.setTimeout(BUILD_TIMEOUT_MS + 300_000)

let prev: PreviousRelease | undefined
await t.test('the previous release is built from this checkout\'s git history', async (t) => {
  const started = Date.now()
  prev = await previousRelease(PREVIOUS_RELEASE, AbortSignal.timeout(BUILD_TIMEOUT_MS))
  t.comment(`${prev.built ? 'built' : 'cached'} in ${prev.dir} (${Date.now() - started} ms)`)
  t.match(libp2pVersion(prev.dir), /^2\./, `the previous release runs libp2p ${libp2pVersion(prev.dir)}`)
  t.match(libp2pVersion(), /^3\./, `this tree runs libp2p ${libp2pVersion()}`)
})

if (prev !== undefined) {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const previousBin = prev.bin
  const keys: { title: string, tag: string, env: Record<string, string>, security: string }[] = [
    { title: 'the default settings (no private network key)', tag: 'open', env: {}, security: 'loopback' },
    { title: 'a private network key', tag: 'psk', env: { AITBC_P2P_PSK_FILE: writePskFile() }, security: 'psk' },
  ]
  // The daemon started second dials: the first one's redial is in its backoff by then. Both
  // orders, so that each release is the dialling side (noise initiator, yamux client) once.
  for (const { title, tag, env, security } of keys) {
    for (const first of ['previous', 'current'] as const) {
      await t.test(`${title}; ${first} started first, the other dials`, (t) => interop(t, {
        previousBin, redisUrl: redis.url, prefix: `interop-${tag}-${first}:`, env, security, first,
      }))
    }
  }
}

/** How a pair is started: the same for both daemons but the binary. */
interface PairSetup {
  previousBin: string
  redisUrl: string
  prefix: string
  env: Record<string, string>
  /** The daemon ready line's meshSecurity this setup gives. */
  security: string
  /** Which daemon starts first (and is dialled by the other). */
  first: Side['name']
}

/** One daemon of the pair. */
interface Side {
  name: 'previous' | 'current'
  daemon: TestDaemon
  peerId: string
}

async function interop(t: Test, setup: PairSetup): Promise<void> {
  const pair = await startPair(t, setup)
  const [previous, current] = pair
  const ways: [Side, Side][] = [[previous, current], [current, previous]]

  await t.test('status gossip: each lists the other online, as the other describes itself', async (t) => {
    for (const [viewer, seen] of ways) {
      const row = await waitFor(`${seen.name} online in the view of ${viewer.name}`, async () => {
        const r = (await nodes(viewer.daemon)).nodes_status[seen.name]
        if (r?.status === 'online' && r.coordinator_url === seen.daemon.url && r.links?.includes(viewer.name)) return r
        throw new Error(`${seen.name}'s row: ${JSON.stringify(r)}`)
      }, { timeoutMs: WAIT_MS, intervalMs: 200 })
      t.match(row, {
        status: 'online', peer_id: seen.peerId, identity: 'pinned', identity_conflict: null, registry_mismatch: null,
        coordinator_url: seen.daemon.url, links: [viewer.name],
      }, `${viewer.name} has ${seen.name}'s own status, bound to its peer id`)
    }
    const [listener, dialer] = setup.first === 'previous' ? [previous, current] : [current, previous]
    t.ok(dials(dialer.daemon, listener.daemon), `${dialer.name} holds a connection it dialled to ${listener.name}'s p2p port`)
    for (const side of pair) {
      const view = await nodes(side.daemon)
      t.same(view.identity_conflicts, [], `${side.name} saw no identity conflict`)
      t.same(Object.entries(view.refusals).filter(([, n]) => n > 0), [], `${side.name} refused nothing`)
    }
  })

  await t.test('messages with receipts, both ways', async (t) => {
    for (const [from, to] of ways) {
      const body = `from ${from.name} to ${to.name} (${setup.prefix})`
      const sent = await api(from.daemon.url, 'POST', '/messages', { to: to.name, body, wait_ms: 5000 })
      t.equal(sent.status, 202, `${from.name} took the message`)
      const id = sent.body.message_id as string
      const done = await waitFor(`${to.name}'s receipt of ${id}`, async () => {
        const rec = (await api(from.daemon.url, 'GET', `/messages/${id}`)).body
        const receipt = (rec.receipts as Record<string, { state: string }>)[to.name]
        if (receipt?.state === 'delivered') return rec
        throw new Error(`receipt: ${JSON.stringify(receipt)}`)
      }, { timeoutMs: WAIT_MS, intervalMs: 200 })
      t.match(done, { message_delivery: { sent: 1, delivered: 1, failed: 0, queued: 0 } }, `${to.name} acked it: delivered`)
      const inbox = (await api(to.daemon.url, 'GET', '/messages/inbox')).body.messages as Record<string, unknown>[]
      t.match(inbox.find((m) => m.body === body), { id, from: from.name, from_peer: from.peerId, body },
        `it is in ${to.name}'s inbox, from ${from.name}'s peer id`)
    }
  })

  await t.test('RPC: a status operation checks the other node live, both ways', async (t) => {
    for (const [caller, callee] of ways) {
      const res = await api(caller.daemon.url, 'POST', '/ops', { operation: 'status', target_node: callee.name, timeout: WAIT_MS / 1000 })
      t.equal(res.status, 200, `${caller.name} ran the operation`)
      t.same(res.body.issues, [], `${caller.name}'s report has no issue`)
      t.match(res.body, {
        operation: 'status', target_node: callee.name, validation_status: 'success', confidence: 1,
        nodes_status: { [callee.name]: { status: 'online', p2p_connections: 1, service_uptime: String } },
      }, `${callee.name} answered ${caller.name}'s node.status call`)
    }
  })
}

/** The 2.x and the 3.x daemon, each the other's configured peer (by address only), on one Redis registry. */
async function startPair(t: Test, setup: PairSetup): Promise<[Side, Side]> {
  const ports = { previous: await freePort(), current: await freePort() }
  const start = async (name: Side['name'], other: Side['name']): Promise<Side> => {
    const daemon = await startDaemon({
      bin: name === 'previous' ? setup.previousBin : undefined,
      p2pPort: ports[name],
      env: setup.env,
      args: [
        '--name', name, '--redis-url', setup.redisUrl, '--set', `redis.prefix="${setup.prefix}"`,
        '--peer', `${other}=/ip4/127.0.0.1/tcp/${ports[other]}`,
      ],
    })
    t.teardown(() => daemon.stop())
    const ready = await daemon.waitForLog('daemon ready', (l) => l.msg === 'daemon ready')
    t.match(ready, { meshSecurity: setup.security }, `${name} runs with meshSecurity ${setup.security}`)
    return { name, daemon, peerId: (await nodes(daemon)).nodes_status[name]!.peer_id! }
  }
  if (setup.first === 'previous') {
    const previous = await start('previous', 'current')
    return [previous, await start('current', 'previous')]
  }
  const current = await start('current', 'previous')
  return [await start('previous', 'current'), current]
}

/** Whether `from` holds an established TCP connection to `to`'s p2p port (from /proc: which side dialled). */
function dials(from: TestDaemon, to: TestDaemon): boolean {
  const pid = from.child.pid!
  const sockets = new Set(readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.slice(1) ?? []
    } catch {
      return []
    }
  }))
  return readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1).some((line) => {
    const f = line.trim().split(/\s+/)
    // rem_address is HEXIP:HEXPORT, st 01 is ESTABLISHED, f[9] the socket's inode.
    return f[3] === '01' && Number.parseInt(f[2]?.split(':')[1] ?? '', 16) === to.p2pPort && sockets.has(f[9]!)
  })
}

/** GET /nodes of one daemon. */
async function nodes(d: TestDaemon): Promise<{
  nodes_status: Record<string, { status: string, peer_id: string | null, coordinator_url: string | null, links: string[] | null }>
  identity_conflicts: string[]
  refusals: Record<string, number>
}> {
  const res = await api(d.url, 'GET', '/nodes')
  if (res.status !== 200) throw new Error(`GET /nodes on ${d.url}: ${res.status}`)
  return res.body as never
}
