import t from 'tap'
import { ERRORS, RedisMessageStore, redisKeys } from '../../../src/coordinator/index.js'
import type { Mesh } from '../../../src/p2p/index.js'
import { meshTestBed, startTestMesh, TEST_STORE } from '../../fixtures/mesh.js'
import { freePort, waitFor } from '../../fixtures/poll.js'

// A send refused with OUTBOX_FULL is never delivered: near the outbox bound the
// outbox write comes before the first delivery. Two in-process meshes on real
// libp2p and real Redis; a third configured node never starts, so messages to
// it stay queued and fill the sender's outbox.
const { client, dir } = await meshTestBed(t, 'outbox-full')

const PREFIX = 'full:'
const bounds = { maxMessages: 4, maxBytes: 1024 * 1024 }
const ports = { sender: await freePort(), receiver: await freePort(), ghost: await freePort() }
const address = (n: keyof typeof ports) => `/ip4/127.0.0.1/tcp/${ports[n]}`
const receiver: Mesh = await startTestMesh({
  name: 'receiver', dir, port: ports.receiver, peers: [{ name: 'sender', address: address('sender') }], redis: client, prefix: PREFIX,
})
t.teardown(() => receiver.stop())
const senderStore = new RedisMessageStore({
  redis: client, keys: redisKeys(PREFIX), node: 'sender', ...TEST_STORE, outboxBounds: bounds,
})
const sender: Mesh = await startTestMesh({
  name: 'sender', dir, port: ports.sender, redis: client, prefix: PREFIX,
  peers: [{ name: 'receiver', address: address('receiver') }, { name: 'ghost', address: address('ghost') }],
  messageStore: senderStore,
  more: { outboxBounds: bounds },
})
t.teardown(() => sender.stop())
await waitFor('sender sees receiver', () => sender.view.stateOf('receiver') === 'online', { timeoutMs: 10_000 })
const receiverStore = new RedisMessageStore({ redis: client, keys: redisKeys(PREFIX), node: 'receiver', ...TEST_STORE })

t.test('undelivered messages fill the outbox: the next send is refused and reaches nobody', async (t) => {
  for (let i = 0; i < bounds.maxMessages; i++) {
    const queued = await sender.messenger.send({ to: 'ghost', body: { i }, ttlMs: 60_000, waitMs: 0 })
    t.equal(queued.receipts.ghost?.state, 'queued', `message ${i} to the absent node stays queued`)
  }
  const err = await sender.messenger.send({ to: 'receiver', body: { refused: true }, ttlMs: 60_000, waitMs: 2000 })
    .then(() => null, (e: unknown) => e)
  t.match(err, { code: 'OUTBOX_FULL' }, 'refused for room')
  t.equal(ERRORS.OUTBOX_FULL.status, 429, 'which the API answers 429')
  // Absence needs a window: a delivery started beside the write would land within it.
  await new Promise((r) => setTimeout(r, 1500))
  const inbox = await receiverStore.inbox(100)
  t.same(inbox.map((m) => m.body), [], 'the receiver never got the refused message')
  t.equal(sender.messenger.queued, bounds.maxMessages, 'only the queued messages to the absent node are pending')
})
