import t from 'tap'
import { RedisMessageStore, redisKeys } from '../../../src/coordinator/index.js'
import type { Mesh, MessageStore, OutgoingMessage } from '../../../src/p2p/index.js'
import { meshTestBed, startTestMesh, TEST_STORE } from '../../fixtures/mesh.js'
import { freePort, waitFor } from '../../fixtures/poll.js'

// The first delivery runs while the message is written to the outbox. Two in-process meshes
// on real libp2p and real Redis; the sender's real Redis store is wrapped so its outbox write
// can be slowed down or made to fail.
const { client, dir } = await meshTestBed(t, 'outbox')

const PREFIX = 'outbox:'
const real = new RedisMessageStore({ redis: client, keys: redisKeys(PREFIX), node: 'sender', ...TEST_STORE })
let outbox: (msg: OutgoingMessage) => Promise<void> = (msg) => real.saveOutgoing(msg)
const order: string[] = []
const store: MessageStore = {
  saveOutgoing: async (msg) => {
    await outbox(msg)
    order.push(`saved ${msg.id}`)
  },
  setReceipt: async (id, target, receipt) => {
    order.push(`receipt ${id} ${receipt.state}`)
    await real.setReceipt(id, target, receipt)
  },
  getOutgoing: (id) => real.getOutgoing(id),
  pendingOutgoing: (opts) => real.pendingOutgoing(opts),
  acceptInbound: (msg) => real.acceptInbound(msg),
  hasInbound: (to, from, id) => real.hasInbound(to, from, id),
  inbox: (limit) => real.inbox(limit),
}

const ports = { sender: await freePort(), receiver: await freePort() }
const address = (n: keyof typeof ports) => `/ip4/127.0.0.1/tcp/${ports[n]}`
const receiver: Mesh = await startTestMesh({
  name: 'receiver', dir, port: ports.receiver, peers: [{ name: 'sender', address: address('sender') }], redis: client, prefix: PREFIX,
})
t.teardown(() => receiver.stop())
const sender: Mesh = await startTestMesh({
  name: 'sender', dir, port: ports.sender, peers: [{ name: 'receiver', address: address('receiver') }], redis: client, prefix: PREFIX,
  messageStore: store,
})
t.teardown(() => sender.stop())
await waitFor('sender sees receiver', () => sender.view.stateOf('receiver') === 'online', { timeoutMs: 10_000 })
const receiverStore = new RedisMessageStore({ redis: client, keys: redisKeys(PREFIX), node: 'receiver', ...TEST_STORE })
const inboxHas = async (id: string) => (await receiverStore.inbox(1000)).some((m) => m.id === id)

t.test('a slow outbox write: the receiver has the message before send() answers, and the receipt lands after the record', async (t) => {
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  let savedId = ''
  outbox = async (msg) => {
    savedId = msg.id
    await gate
    await real.saveOutgoing(msg)
  }
  let answered = false
  const sending = sender.messenger.send({ to: 'receiver', body: { n: 1 }, ttlMs: 60_000, waitMs: 5000 }).then((r) => {
    answered = true
    return r
  })
  await waitFor('the outbox write started', () => savedId !== '')
  await waitFor('delivered while the outbox write waits', () => inboxHas(savedId), { timeoutMs: 15_000 })
  t.notOk(answered, 'send() has not answered: the message is not in the outbox yet')
  release()
  const sent = await sending
  t.equal(sent.id, savedId)
  t.equal(sent.receipts.receiver?.state, 'delivered')
  await waitFor('the receipt recorded', async () => (await real.getOutgoing(savedId)) === null
    || (await real.getOutgoing(savedId))?.receipts.receiver?.state === 'delivered')
  const mine = order.filter((o) => o.includes(savedId))
  t.same(mine, [`saved ${savedId}`, `receipt ${savedId} delivered`], 'the record first, then its receipt')
})

t.test('a failed outbox write fails the send and records nothing, even if the receiver got it', async (t) => {
  let failedId = ''
  outbox = async (msg) => {
    failedId = msg.id
    await new Promise((r) => setTimeout(r, 200))
    throw Object.assign(new Error('Redis is down'), { code: 'ERR_TEST_DOWN' })
  }
  const err = await sender.messenger.send({ to: 'receiver', body: { n: 2 }, ttlMs: 60_000, waitMs: 5000 }).catch((e: unknown) => e)
  t.match(err, { code: 'ERR_TEST_DOWN' }, 'the caller gets the store\'s error (the API answers 503)')
  t.equal(sender.messenger.queued, 0, 'nothing left queued for it')
  await new Promise((r) => setTimeout(r, 300))
  t.equal(await real.getOutgoing(failedId), null, 'no record')
  t.same(order.filter((o) => o.includes(failedId)), [], 'no receipt was written')
  outbox = (msg) => real.saveOutgoing(msg)
})
