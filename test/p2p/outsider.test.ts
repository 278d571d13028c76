import { randomUUID } from 'node:crypto'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import t from 'tap'
import { api } from '../fixtures/api.js'
import { meshTestBed } from '../fixtures/mesh.js'
import { type MeshNode, nodesOf, startMeshNode, waitForState } from '../fixtures/mesh-node.js'
import { daemonAddress, exchangeFrames, newIdentity, type Outsider, startOutsider, statusClaim } from '../fixtures/outsider.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// The nodes run with the daemon's default security (loopback mesh, no PSK, no
// allowlist): what stands between an outsider and the control plane is that a
// node is its peer id, and that the node doing the work checks authority. Two
// in-process nodes built with the daemon's wiring (mesh, node actions,
// operations, API) on real libp2p and a real Redis.
const { redis, dir } = await meshTestBed(t, 'outsider')

const scratch = mkdtempSync(join(tmpdir(), 'aitbc-outsider-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
const configFile = join(scratch, 'chain.env')
writeFileSync(configFile, 'ORIGINAL=1\n')
const serviceLog = join(scratch, 'service.log')
const manager = join(scratch, 'service-manager.sh')
writeFileSync(manager, `#!/bin/sh\necho "$@" >> ${serviceLog}\n`)
chmodSync(manager, 0o755)
const actionMarker = join(scratch, 'action.log')

// The probe is a plain libp2p peer the daemons know by name (configured peer id): a member, not an operator.
const probeId = await newIdentity()
const probePort = await freePort()
const probe = await startOutsider({ key: probeId.key, listen: `/ip4/127.0.0.1/tcp/${probePort}` })
t.teardown(() => probe.stop())

const names = ['genesis', 'follower']
const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const)))
const nodes: MeshNode[] = []
for (const name of names) {
  const node = await startMeshNode({
    name, dir, port: ports[name]!, redisUrl: redis.url, prefix: 'outsider:', ops: true,
    peers: [
      ...names.filter((p) => p !== name).map((p) => ({ name: p, address: `/ip4/127.0.0.1/tcp/${ports[p]}` })),
      { name: 'probe', address: `/ip4/127.0.0.1/tcp/${probePort}`, peerId: probeId.peerId },
    ],
    config: {
      // Both nodes share this process's event loop with the floods below: a stall there must not pass for silence.
      p2p: { suspectAfterMs: 2000, offlineAfterMs: 3000 },
      ops: {
        configFiles: [configFile],
        serviceManager: manager,
        actions: {
          // genesis thinks the action is harmless; the follower, which runs it, says it needs force.
          mark: { command: ['/bin/sh', '-c', `echo ${name} >> ${actionMarker}`], requiresForce: name === 'follower' },
        },
      },
    },
  })
  t.teardown(() => node.stop())
  nodes.push(node)
}
const [genesis, follower] = nodes as [MeshNode, MeshNode]
await waitForState(genesis, 'follower', 'online')
await waitForState(follower, 'genesis', 'online')
const followerId = (await nodesOf(genesis)).follower!.peer_id!
const genesisId = (await nodesOf(follower)).genesis!.peer_id!
const followerAddr = daemonAddress(`/ip4/127.0.0.1/tcp/${ports.follower}`, followerId)

const refusals = async (d: MeshNode): Promise<Record<string, number>> => (await api(d.url, 'GET', '/nodes')).body.refusals as Record<string, number>
const metric = async (d: MeshNode, reason: string): Promise<number> => {
  const text = await (await fetch(`${d.url}/metrics`)).text()
  return Number(new RegExp(`aitbc_p2p_refusals_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0)
}
const TOPIC = 'aitbc/status/1'
/** Connects and waits until the daemon's topic subscription is known, so a publish reaches it. */
async function joinGossip(node: Outsider): Promise<void> {
  node.services.pubsub.subscribe(TOPIC)
  await node.dial(followerAddr, { signal: AbortSignal.timeout(5000) })
  await waitFor('the daemon\'s subscription', () => node.services.pubsub.getSubscribers(TOPIC).some((p) => p.toString() === followerId))
}
const publish = (node: Outsider, name: string, extra?: Record<string, unknown>) =>
  node.services.pubsub.publish(TOPIC, statusClaim(node.peerId.toString(), name, extra)).catch(() => undefined)
const rpc = (method: string, params: unknown, opId?: string) => ({ t: 'req', method, params, deadline_ms: 5000, ...(opId === undefined ? {} : { op_id: opId }) })

t.test('an unknown peer gets ping and identify, no RPC, no message, no gossip, and is then kept out', async (t) => {
  const outsider = await startOutsider()
  t.teardown(() => outsider.stop())
  const rtt = await outsider.services.ping.ping(followerAddr, { signal: AbortSignal.timeout(5000) })
  t.ok(rtt >= 0, 'ping answers')
  const received: unknown[] = []
  outsider.services.pubsub.addEventListener('message', (e) => received.push(e.detail))
  outsider.services.pubsub.subscribe(TOPIC)
  // Several status intervals (200 ms) pass: members hear statuses all the time, the outsider hears none.
  await new Promise((r) => setTimeout(r, 1500))
  t.equal(received.length, 0, 'no status gossip reached the outsider')

  const before = await metric(follower, 'unknown_peer')
  const write = await exchangeFrames(outsider, followerAddr, '/aitbc/rpc/1.0.0', [rpc('node.config.write', { name: 'chain.env', content_b64: 'UFdORUQ9MQo=' })])
  t.same(write.replies, [], 'node.config.write: no answer at all (not even the method list)')
  t.equal(readFileSync(configFile, 'utf8'), 'ORIGINAL=1\n', 'the config file is untouched')
  await waitFor('the refusal counted', async () => (await metric(follower, 'unknown_peer')) > before)
  t.ok(follower.logs.some((l) => /is no cluster member/.test(String(l.msg)) && l.peerId === outsider.peerId.toString()), 'logged with the peer id')

  await waitFor('the outsider disconnected', () => outsider.getConnections(peerIdFromString(followerId)).length === 0)
  const again = await exchangeFrames(outsider, followerAddr, '/aitbc/msg/1.0.0', [{ t: 'msg', id: randomUUID(), from: 'genesis', to: 'follower', body: 'x', sent_at: Date.now(), expires_at: Date.now() + 60_000 }])
  t.same(again.replies, [], 'a message after the refusal gets nothing')
  t.match(again.error, /dial|refused|closed|reset|aborted|gater|deny/i, 'the connection is refused while the peer is kept out')
  t.equal((await api(follower.url, 'GET', '/messages/inbox')).body.count, 0, 'nothing in the inbox')
})

t.test('an unknown peer churning its status subscription makes no node publish more', async (t) => {
  // The probe is a member: it counts the follower's statuses while the outsider subscribes and unsubscribes.
  const heard: number[] = []
  const count = (e: CustomEvent<{ topic: string, type: string, from?: { toString(): string } }>) => {
    if (e.detail.topic === TOPIC && e.detail.from?.toString() === followerId) heard.push(Date.now())
  }
  probe.services.pubsub.addEventListener('message', count as never)
  t.teardown(() => probe.services.pubsub.removeEventListener('message', count as never))
  await joinGossip(probe)
  const outsider = await startOutsider()
  t.teardown(() => outsider.stop())
  await outsider.dial(followerAddr, { signal: AbortSignal.timeout(5000) })
  const started = Date.now()
  for (let i = 0; i < 100; i++) {
    outsider.services.pubsub.subscribe(TOPIC)
    await new Promise((r) => setTimeout(r, 10))
    outsider.services.pubsub.unsubscribe(TOPIC)
    await new Promise((r) => setTimeout(r, 10))
  }
  const window = Date.now() - started
  const during = heard.filter((at) => at >= started).length
  // One status a 200 ms interval, and a few for members' own changes; 100 announcements would be about 50 a second.
  t.ok(during <= window / 200 + 5, `${during} statuses from the follower in ${window} ms of churn`)
})

t.test('a claim of a bound name is refused, logged naming both ids, counted and shown in /nodes', async (t) => {
  const outsider = await startOutsider()
  t.teardown(() => outsider.stop())
  await joinGossip(outsider)
  await publish(outsider, 'genesis')
  const row = await waitFor('the conflict shown', async () => {
    const r = (await nodesOf(follower)).genesis
    return r?.identity_conflict != null ? r : undefined
  })
  t.equal(row.peer_id, genesisId, 'genesis is still bound to its own peer id')
  t.match(row.identity_conflict, new RegExp(`${outsider.peerId.toString()}.*genesis.*${genesisId}`), 'the conflict names the claimant and the bound id')
  t.equal(row.status, 'online', 'the real genesis stays online')
  t.ok((await refusals(follower)).name_taken! >= 1, 'counted in GET /nodes')
  t.ok((await metric(follower, 'name_taken')) >= 1, 'counted in /metrics')
  const line = follower.logs.find((l) => l.reason === 'name_taken' && l.peerId === outsider.peerId.toString())
  t.equal(line?.level, 50, 'logged as an error')
  t.match(String(line?.msg), genesisId, 'the log line names the bound id too')
  await waitFor('the claimant disconnected', () => outsider.getConnections(peerIdFromString(followerId)).length === 0)
})

t.test('a forged report that genesis is lost takes it offline nowhere: not from a stranger, not from a member while genesis answers pings', async (t) => {
  // The newest status genesis could have: the report claims to come after anything the follower heard.
  const lost = [{ name: 'genesis', started_at: Date.now() + 1e9, seq: 1e9 }]
  const logsBefore = follower.logs.length
  const outsider = await startOutsider()
  t.teardown(() => outsider.stop())
  await joinGossip(outsider)
  await publish(outsider, 'invented-reporter', { lost })
  await waitFor('the stranger\'s status refused', async () => (await refusals(follower)).unknown_name! >= 1)
  await joinGossip(probe)
  for (let seq = 2; seq < 12; seq++) {
    await publish(probe, 'probe', { seq, lost })
    const row = (await nodesOf(follower)).genesis
    t.equal(row?.status, 'online', `after the member's report #${seq - 1}, genesis is online on the follower (${row?.reason ?? 'no reason'})`)
    await new Promise((r) => setTimeout(r, 100))
  }
  const gen = (await nodesOf(genesis)).genesis
  t.equal(gen?.status, 'online', 'genesis itself is untouched')
  // Not even for a moment between the samples: the follower checked each report with a ping, which genesis answered.
  const flips = follower.logs.slice(logsBefore).filter((l) => /node genesis is (offline|degraded)|reported lost and silent/.test(String(l.msg)))
  t.same(flips.map((l) => l.msg), [], 'no offline or degraded transition of genesis in the follower\'s log')
})

t.test('2,000 invented names gossiped by one peer: none is kept', async (t) => {
  const outsider = await startOutsider()
  t.teardown(() => outsider.stop())
  await joinGossip(outsider)
  for (let i = 0; i < 2000; i++) void publish(outsider, `invented-${i}`)
  await waitFor('a refusal of an unknown name', async () => (await refusals(follower)).unknown_name! >= 1)
  await new Promise((r) => setTimeout(r, 500))
  const rows = await nodesOf(follower)
  t.same(Object.keys(rows).sort(), ['follower', 'genesis', 'probe'], 'the view holds only configured names')
  const sent = await api(follower.url, 'POST', '/messages', { to: 'all', body: 'count', wait_ms: 200 })
  t.same(Object.keys(sent.body.receipts as object).sort(), ['genesis', 'probe'], 'a message to all has one receipt per real node')
  const op = await api(follower.url, 'POST', '/ops', { operation: 'status', target_node: 'all', verify: false })
  t.same(Object.keys((op.body as { nodes_status: object }).nodes_status).sort(), ['follower', 'genesis', 'probe'])
})

t.test('a member cannot forge its sender, nor change a node outside an operation it started', async (t) => {
  const msg = (from: string) => ({ t: 'msg', id: randomUUID(), from, to: 'follower', body: `as ${from}`, sent_at: Date.now(), expires_at: Date.now() + 60_000 })
  const forged = await exchangeFrames(probe, followerAddr, '/aitbc/msg/1.0.0', [msg('genesis')])
  t.match(forged.replies, [{ t: 'ack', result: 'rejected', reason: /sender is probe/ }], 'a forged from is rejected')
  const honest = await exchangeFrames(probe, followerAddr, '/aitbc/msg/1.0.0', [msg('probe')])
  t.match(honest.replies, [{ t: 'ack', result: 'delivered' }], 'the same frame with its own name is delivered')
  const inbox = (await api(follower.url, 'GET', '/messages/inbox')).body.messages as { from: string }[]
  t.same(inbox.map((m) => m.from), ['probe'], 'the inbox shows the authenticated sender only')
  t.ok((await refusals(follower)).forged_from! >= 1, 'the forgery is counted')

  const read = await exchangeFrames(probe, followerAddr, '/aitbc/rpc/1.0.0', [rpc('node.status', null)])
  t.match(read.replies, [{ ok: true, result: { node: 'follower' } }], 'read-only actions answer members')

  // A live operation started by genesis: its id is in the journal, but it is not the probe's.
  const running = await api(genesis.url, 'POST', '/ops', { operation: 'sync', sync_type: 'configuration', target_node: 'all', force: true, timeout: 5 })
  const genesisOp = String(running.body.op_id ?? randomUUID())
  const attempts: [string, unknown, string | undefined, RegExp][] = [
    ['node.config.write', { name: 'chain.env', content_b64: 'UFdORUQ9MQo=' }, undefined, /no operation id/],
    ['node.config.write', { name: 'chain.env', content_b64: 'UFdORUQ9MQo=' }, randomUUID(), /not in the journal/],
    ['node.config.write', { name: 'chain.env', content_b64: 'UFdORUQ9MQo=' }, genesisOp, /started by genesis, not by probe|is done/],
    ['node.config.read', { name: 'chain.env' }, undefined, /no operation id/],
    ['node.service', { verb: 'restart' }, undefined, /no operation id/],
    ['node.action', { name: 'mark' }, randomUUID(), /not in the journal/],
    ['node.git.sync', { apply: true }, undefined, /no operation id/],
  ]
  for (const [method, params, opId, why] of attempts) {
    const res = await exchangeFrames(probe, followerAddr, '/aitbc/rpc/1.0.0', [rpc(method, params, opId)])
    t.match(res.replies, [{ ok: false, error: { code: 'ERR_ACTION_FORBIDDEN', message: why } }], `${method}${opId === undefined ? '' : ' with a foreign op id'}: refused`)
  }
  t.equal(readFileSync(configFile, 'utf8'), 'ORIGINAL=1\n', 'the config file is untouched')
  t.notOk(existsSync(serviceLog), 'the service manager never ran')
  t.notOk(existsSync(actionMarker), 'the action never ran')
  t.ok((await metric(follower, 'forbidden')) >= attempts.length, 'every refusal counted as forbidden')
})

t.test('a member\'s burst of 300 frames, each id sent 100 times at once, some forged: every frame answered, each id stored once', async (t) => {
  const ids: string[] = [randomUUID(), randomUUID(), randomUUID()]
  const frame = (id: string, from = 'probe') => ({ t: 'msg', id, from, to: 'follower', body: { id }, sent_at: Date.now(), expires_at: Date.now() + 60_000 })
  // Interleaved, so each group the receiver stores at once holds copies of every id; more than one group (256) in all.
  const frames = Array.from({ length: 300 }, (_, i) => frame(ids[i % 3]!, i % 50 === 7 ? 'genesis' : 'probe'))
  const { replies, error } = await exchangeFrames(probe, followerAddr, '/aitbc/msg/1.0.0', frames)
  t.equal(error, null)
  t.equal(replies.length, 300, 'every frame answered')
  const acks = replies as { id: string, result: string, reason: string | null }[]
  t.equal(acks.filter((a) => a.result === 'rejected').length, 6, 'the forged copies rejected, in the burst as alone')
  for (const id of ids) {
    const mine = acks.filter((a) => a.id === id && a.result !== 'rejected')
    t.equal(mine.filter((a) => a.result === 'delivered').length, 1, `${id.slice(0, 8)}: delivered once`)
    t.equal(mine.filter((a) => a.result === 'duplicate').length, mine.length - 1, 'the other copies acked as duplicates')
  }
  const inbox = (await api(follower.url, 'GET', '/messages/inbox?limit=1000')).body.messages as { id: string, from: string }[]
  for (const id of ids) t.equal(inbox.filter((m) => m.id === id).length, 1, `${id.slice(0, 8)}: one inbox copy`)
  t.ok(inbox.filter((m) => ids.includes(m.id)).every((m) => m.from === 'probe'), 'stored under the authenticated sender')
})

t.test('p2p.probe and liveness beats: an unknown peer gets nothing; a member gets bounded answers and cannot aim a probe outside the cluster', async (t) => {
  const outsider = await startOutsider()
  t.teardown(() => outsider.stop())
  const unknown = await exchangeFrames(outsider, followerAddr, '/aitbc/rpc/1.0.0', [rpc('p2p.probe', { node: 'genesis' })])
  t.same(unknown.replies, [], 'an unknown peer: no answer at all')
  const beats = await exchangeFrames(outsider, followerAddr, '/aitbc/liveness/1.0.0', [{ n: 1 }])
  t.same(beats.replies, [], 'nor any echo on the liveness protocol')
  const echoed = await exchangeFrames(probe, followerAddr, '/aitbc/liveness/1.0.0', [{ n: 1 }, { n: 2 }])
  t.same(echoed.replies, [{ n: 1 }, { n: 2 }], 'a member\'s beats are echoed')
  for (const bad of [{ n: 'x'.repeat(100) }, { n: -1 }, { n: 1, extra: true }]) {
    const res = await exchangeFrames(probe, followerAddr, '/aitbc/liveness/1.0.0', [bad, { n: 3 }])
    t.same(res.replies, [], `a bad beat closes that stream unanswered: ${JSON.stringify(bad).slice(0, 30)}`)
  }

  const ask = async (params: unknown) => (await exchangeFrames(probe, followerAddr, '/aitbc/rpc/1.0.0', [rpc('p2p.probe', params)])).replies
  t.match(await ask({ node: 'genesis' }), [{ ok: true, result: { reachable: true, reason: null } }], 'a member that answers pings')
  t.match(await ask({ node: '/ip4/10.0.0.1/tcp/22' }), [{ ok: true, result: { reachable: false, reason: /knows no node/ } }],
    'an address instead of a name: nothing is dialled')
  t.match(await ask({ node: 'probe' }), [{ ok: true, result: { reachable: false } }], 'itself: refused')
  let deep: unknown = 'x'
  for (let i = 0; i < 200; i++) deep = { node: deep }
  for (const bad of [{ node: 'x'.repeat(101) }, { node: 5 }, { node: 'genesis', extra: 1 }, deep, null]) {
    t.match(await ask(bad), [{ ok: false, error: { code: 'ERR_RPC_BAD_PARAMS', message: /^params/ } }], `refused: ${JSON.stringify(bad).slice(0, 40)}`)
  }
  t.equal((await nodesOf(follower)).genesis?.status, 'online', 'the follower still sees genesis online')
})

t.test('the node that does the work applies its own force rule, whatever the caller believes', async (t) => {
  // genesis's config says mark needs no force, so genesis accepts the request; the follower's says it does.
  const res = await api(genesis.url, 'POST', '/ops', { operation: 'coordinate', action: 'mark', target_node: 'all', timeout: 10 })
  const report = res.body as { issues: { node: string, error: string }[] }
  t.match(report.issues, [{ node: 'follower', error: /ERR_ACTION_FORBIDDEN|needs force/ }], 'the follower refused')
  // genesis and the follower answered (the follower with a refusal); the probe, a configured peer with no daemon, did not.
  t.equal((report as unknown as { confidence: number }).confidence, 0.67, 'a refusal counts as an answer: confidence 2 of 3')
  t.equal(readFileSync(actionMarker, 'utf8'), 'genesis\n', 'only genesis ran it')
  const journal = await api(follower.url, 'GET', `/ops/${String(res.body.op_id)}`)
  const actions = (journal.body as { operation: { actions: { node: string }[] } }).operation.actions
  t.match(actions.filter((a) => a.node === 'follower'), [{ action: 'node.action', caller: 'genesis', peer_id: genesisId, outcome: 'refused' }], 'the refusal is in the journal')
  t.match(actions.filter((a) => a.node === 'genesis'), [{ action: 'node.action', caller: 'genesis', outcome: 'ok' }], 'and so is the run on genesis')
  const forced = await api(genesis.url, 'POST', '/ops', { operation: 'coordinate', action: 'mark', target_node: 'follower', force: true, timeout: 10 })
  t.equal((forced.body as { validation_status: string }).validation_status, 'success', 'with force the follower runs it')
  t.equal(readFileSync(actionMarker, 'utf8'), 'genesis\nfollower\n')
})

t.test('p2p.status: an unknown peer gets nothing; a member may hand over its own status only, at a bounded rate', async (t) => {
  const outsider = await startOutsider()
  t.teardown(() => outsider.stop())
  const claim = (id: string, name: string, extra: Record<string, unknown> = {}) =>
    JSON.parse(new TextDecoder().decode(statusClaim(id, name, extra))) as Record<string, unknown>
  const unknown = await exchangeFrames(outsider, followerAddr, '/aitbc/rpc/1.0.0', [rpc('p2p.status', claim(outsider.peerId.toString(), 'mallory'))])
  t.same(unknown.replies, [], 'an unknown peer: no answer at all')

  const gap = () => new Promise((r) => setTimeout(r, 300))
  const push = async (status: unknown) => {
    await gap()
    return (await exchangeFrames(probe, followerAddr, '/aitbc/rpc/1.0.0', [rpc('p2p.status', status)])).replies
  }
  t.match(await push(claim(genesisId, 'genesis', { seq: 90 })), [{ ok: false, error: { code: 'ERR_STATUS_FOREIGN' } }],
    'a member handing over genesis\'s status: refused, the author is the connection\'s peer')
  let deep: unknown = 'x'
  for (let i = 0; i < 200; i++) deep = { lost: deep }
  for (const bad of [null, 5, { ...claim(probeId.peerId, 'probe'), seq: -1 }, { ...claim(probeId.peerId, 'probe'), extra: 1 }, deep]) {
    t.match(await push(bad), [{ ok: false, error: { code: 'ERR_RPC_BAD_PARAMS', message: /^params/ } }], `refused: ${JSON.stringify(bad).slice(0, 40)}`)
  }

  // Its own status, reporting genesis lost as of a status newer than any: the follower holds a
  // link to genesis, checks, and is answered. One member's word moves nothing.
  const report = claim(probeId.peerId, 'probe', { seq: 100, lost: [{ name: 'genesis', started_at: Date.now() + 3_600_000, seq: 1e9 }] })
  t.match(await push(report), [{ ok: true, result: { taken: true } }], 'its own status is taken')
  const until = Date.now() + 1500
  while (Date.now() < until) {
    t.equal((await nodesOf(follower)).genesis?.status, 'online', 'genesis stays online at the follower')
    await new Promise((r) => setTimeout(r, 250))
  }
  await gap()
  const [twice, again] = await Promise.all([101, 102].map((seq) =>
    exchangeFrames(probe, followerAddr, '/aitbc/rpc/1.0.0', [rpc('p2p.status', { ...report, seq })])))
  t.match([...twice!.replies, ...again!.replies].filter((r) => (r as { ok: boolean }).ok === false),
    [{ error: { code: 'ERR_STATUS_PUSH_RATE' } }], 'two within 250 ms: the second refused')
})
