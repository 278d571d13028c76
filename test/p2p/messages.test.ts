import t from 'tap'
import { cliRun } from '../cli/run-cli.js'
import { api } from '../fixtures/api.js'
import { meshTestBed } from '../fixtures/mesh.js'
import { type LogLine, type MeshNode, startMeshNode, waitForState } from '../fixtures/mesh-node.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// Three nodes' mesh and message routes in-process, on real libp2p and one real
// Redis. A stop and restart keep the node key and the Redis outbox and inbox,
// as a daemon's restart does.
const { redis, dir } = await meshTestBed(t, 'messages')
const names = ['genesis', 'follower', 'aitbc2']
const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const)))
const logsOf: Record<string, LogLine[]> = Object.fromEntries(names.map((n) => [n, []]))
const nodes: Record<string, MeshNode> = {}
const start = async (name: string): Promise<void> => {
  nodes[name] = await startMeshNode({
    name, dir, port: ports[name]!, redisUrl: redis.url, prefix: 'msg:', logs: logsOf[name],
    peers: names.filter((p) => p !== name).map((p) => ({ name: p, address: `/ip4/127.0.0.1/tcp/${ports[p]}` })),
  })
}
for (const n of names) await start(n)
t.teardown(() => Promise.all(names.map((n) => nodes[n]!.stop())))
/** A node as the tests address it; `daemon` is whichever run of it is current. */
const byName = (name: string) => ({
  get daemon(): MeshNode {
    return nodes[name]!
  },
  restart: () => start(name),
})
const genesis = byName('genesis')
const follower = byName('follower')
const third = byName('aitbc2')
for (const viewer of names) for (const n of names.filter((x) => x !== viewer)) await waitForState(nodes[viewer]!, n, 'online')

type Receipt = { state: string, attempts: number, reason: string | null }
type Sent = { message_id: string, receipts: Record<string, Receipt>, message_delivery: Record<string, number> }

async function send(from: MeshNode, body: Record<string, unknown>): Promise<Sent> {
  const res = await api(from.url, 'POST', '/messages', body)
  if (res.status !== 202) throw new Error(`POST /messages: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body as unknown as Sent
}

async function inboxIds(d: MeshNode): Promise<string[]> {
  const res = await api(d.url, 'GET', '/messages/inbox?limit=1000')
  return (res.body.messages as { id: string }[]).map((m) => m.id)
}

const receiptOf = (d: MeshNode, id: string, target: string) =>
  api(d.url, 'GET', `/messages/${id}`).then((r) => (r.body.receipts as Record<string, Receipt> | undefined)?.[target])

t.test('a message to all gets one delivered receipt per peer, and one copy in each inbox', async (t) => {
  const sent = await send(genesis.daemon, { to: 'all', body: 'hello all' })
  t.same(Object.keys(sent.receipts).sort(), ['aitbc2', 'follower'])
  t.equal(sent.receipts.follower?.state, 'delivered')
  t.equal(sent.receipts.aitbc2?.state, 'delivered')
  t.same(sent.message_delivery, { sent: 2, delivered: 2, failed: 0, queued: 0 })
  for (const d of [follower.daemon, third.daemon]) {
    const ids = await inboxIds(d)
    t.equal(ids.filter((id) => id === sent.message_id).length, 1, 'exactly one copy')
  }
  t.notOk((await inboxIds(genesis.daemon)).includes(sent.message_id), 'not delivered to the sender itself')
  const again = await api(genesis.daemon.url, 'GET', `/messages/${sent.message_id}`)
  t.match(again.body, { message_id: sent.message_id, message_delivery: { sent: 2, delivered: 2, failed: 0 } })
  const inbox = await api(follower.daemon.url, 'GET', '/messages/inbox')
  t.match((inbox.body.messages as unknown[])[0], { id: sent.message_id, from: 'genesis', to: 'follower', body: 'hello all' })
})

t.test('a message to a stopped node stays queued and is delivered once, when it is back', async (t) => {
  await third.daemon.stop()
  await waitForState(genesis.daemon, 'aitbc2', 'offline', 5000)
  const sent = await send(genesis.daemon, { to: 'aitbc2', body: { job: 42 }, wait_ms: 300 })
  t.equal(sent.receipts.aitbc2?.state, 'queued')
  t.match(sent.receipts.aitbc2?.reason, /unreachable/)
  t.same(sent.message_delivery, { sent: 1, delivered: 0, failed: 0, queued: 1 })

  await third.restart()
  const receipt = await waitFor('delivered receipt', async () => {
    const r = await receiptOf(genesis.daemon, sent.message_id, 'aitbc2')
    return r?.state === 'delivered' ? r : undefined
  }, { timeoutMs: 15_000 })
  t.ok(receipt.attempts >= 2, `took ${receipt.attempts} attempts`)
  const ids = await inboxIds(third.daemon)
  t.equal(ids.filter((id) => id === sent.message_id).length, 1, 'exactly one copy in the inbox')
})

t.test('messages pending when the sender is SIGKILLed are delivered after its restart', async (t) => {
  await follower.daemon.stop()
  await waitForState(genesis.daemon, 'follower', 'offline', 5000)
  const pending = await Promise.all([1, 2, 3].map((i) => send(genesis.daemon, { to: 'follower', body: `pending ${i}`, wait_ms: 0 })))
  // What SIGKILL leaves is the outbox in Redis; the next run must resume it.
  await genesis.daemon.stop()
  await follower.restart()
  await genesis.restart()
  for (const p of pending) {
    await waitFor(`receipt of ${p.message_id}`, async () =>
      (await receiptOf(genesis.daemon, p.message_id, 'follower'))?.state === 'delivered', { timeoutMs: 15_000 })
  }
  const ids = await inboxIds(follower.daemon)
  for (const p of pending) t.equal(ids.filter((id) => id === p.message_id).length, 1, `one copy of ${p.message_id}`)
  t.ok(genesis.daemon.logs.some((l) => l.msg === 'resumed undelivered messages from the outbox'), 'resume logged')
})

t.test('a message that cannot be delivered before its ttl gets an expired receipt', async (t) => {
  await third.daemon.stop()
  await waitForState(genesis.daemon, 'aitbc2', 'offline', 5000)
  const sent = await send(genesis.daemon, { to: 'aitbc2', body: 'too late', ttl_ms: 600, wait_ms: 0 })
  const receipt = await waitFor('expired receipt', async () => {
    const r = await receiptOf(genesis.daemon, sent.message_id, 'aitbc2')
    return r?.state === 'expired' ? r : undefined
  }, { timeoutMs: 10_000 })
  t.match(receipt.reason, /ttl passed/)
  const again = await api(genesis.daemon.url, 'GET', `/messages/${sent.message_id}`)
  t.match(again.body.message_delivery, { sent: 1, delivered: 0, failed: 1, queued: 0 })
  await third.restart()
  await waitForState(genesis.daemon, 'aitbc2', 'online', 10_000)
  t.notOk((await inboxIds(third.daemon)).includes(sent.message_id), 'an expired message is never delivered later')
})

t.test('bad message requests get a 4xx naming the field', async (t) => {
  const url = genesis.daemon.url
  const unknown = await api(url, 'POST', '/messages', { to: 'nosuch', body: 'x' })
  t.equal(unknown.status, 422)
  t.match(unknown.body, { code: 'VALIDATION_FAILED', message: /to: unknown node "nosuch"/, detail: /all, aitbc2, follower/ })
  const self = await api(url, 'POST', '/messages', { to: 'genesis', body: 'x' })
  t.equal(self.status, 422)
  t.match(self.body.message, /to: genesis is this node/)
  const noBody = await api(url, 'POST', '/messages', { to: 'all' })
  t.equal(noBody.status, 422)
  t.match(noBody.body.message, /body/)
  const ttl = await api(url, 'POST', '/messages', { to: 'all', body: 'x', ttl_ms: 10 })
  t.equal(ttl.status, 422)
  t.match(ttl.body.message, /ttl_ms/)
  const extra = await api(url, 'POST', '/messages', { to: 'all', body: 'x', priority: 1 })
  t.equal(extra.status, 422)
  t.match(extra.body.message, /priority/)
  const big = await api(url, 'POST', '/messages', { to: 'all', body: 'x'.repeat(70_000) })
  t.equal(big.status, 413)
  t.match(big.body, { code: 'MESSAGE_TOO_LARGE' })
  const badId = await api(url, 'GET', '/messages/not-an-id')
  t.equal(badId.status, 422)
  t.match(badId.body.message, /message_id/)
  const missing = await api(url, 'GET', '/messages/00000000-0000-4000-8000-000000000000')
  t.equal(missing.status, 404)
  t.match(missing.body, { code: 'MESSAGE_NOT_FOUND' })
  const limit = await api(url, 'GET', '/messages/inbox?limit=0')
  t.equal(limit.status, 422)
  t.match(limit.body.message, /limit/)
})

t.test('the CLI sends a message and prints the receipts', async (t) => {
  const sent = await cliRun(['--url', genesis.daemon.url, 'message', '--to', 'follower', 'from the CLI'])
  t.equal(sent.code, 0, sent.stderr)
  t.match(sent.stdout, /to follower: sent 1, delivered 1, failed 0, queued 0/)
  t.match(sent.stdout, /follower\s+delivered\s+1/)
  const inbox = await cliRun(['--url', follower.daemon.url, 'messages', 'inbox'])
  t.match(inbox.stdout, /genesis\s+\S+\s+from the CLI/)
})
