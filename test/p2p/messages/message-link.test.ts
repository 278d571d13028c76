import type { Stream } from '@libp2p/interface'
import t from 'tap'
import { frameChannel } from '../../../src/p2p/frames.js'
import { MessageLink } from '../../../src/p2p/messages/message-link.js'
import { messageFrame, MESSAGE_PROTOCOL, type MessageFrame } from '../../../src/p2p/messages/wire.js'
import { startOutsider } from '../../fixtures/outsider.js'

// Two plain libp2p peers: one opens a MessageLink, the other reads frames and acks only the ones it is told to.
const sender = await startOutsider()
const receiver = await startOutsider()
t.teardown(async () => {
  await sender.stop()
  await receiver.stop()
})
const ackable = new Set<string>()
await receiver.handle(MESSAGE_PROTOCOL, (stream) => {
  const channel = frameChannel(stream, messageFrame)
  void (async () => {
    for await (const frame of channel.frames()) {
      if (ackable.has(frame.id)) channel.send({ t: 'ack', id: frame.id, result: 'delivered', reason: null })
    }
  })().catch(() => {})
})

const open = async (): Promise<MessageLink> => {
  const stream: Stream = await sender.dialProtocol(receiver.getMultiaddrs()[0]!, MESSAGE_PROTOCOL)
  return new MessageLink(stream)
}
const frame = (id: string): MessageFrame => ({
  t: 'msg', id, from: 'a', to: 'b', body: { n: id }, sent_at: Date.now(), expires_at: Date.now() + 60_000,
})
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('an unanswered message fails with ERR_ACK_TIMEOUT at its deadline, also after the link sat idle', async (t) => {
  const link = await open()
  t.teardown(() => link.close())
  ackable.add('answered')
  t.equal((await link.request(frame('answered'), Date.now() + 5000)).result, 'delivered')

  const started = Date.now()
  await t.rejects(link.request(frame('silent-1'), Date.now() + 300), { code: 'ERR_ACK_TIMEOUT' })
  t.ok(Date.now() - started >= 250, 'not before the deadline')
  t.ok(Date.now() - started < 2000, 'soon after the deadline')

  // Nothing is awaited for a while (the deadline check stops); a new request must still time out.
  await settle(400)
  await t.rejects(link.request(frame('silent-2'), Date.now() + 300), { code: 'ERR_ACK_TIMEOUT' })
  t.ok(link.isOpen, 'a missing ack does not close the link')

  // And an answered one after that still gets its ack.
  ackable.add('answered-2')
  t.equal((await link.request(frame('answered-2'), Date.now() + 5000)).result, 'delivered')
})

t.test('awaited acks fail with ERR_LINK_CLOSED when the link closes', async (t) => {
  const link = await open()
  const pending = link.request(frame('never'), Date.now() + 60_000)
  link.close()
  await t.rejects(pending, { code: 'ERR_LINK_CLOSED' })
  await t.rejects(link.request(frame('after'), Date.now() + 1000), { code: 'ERR_LINK_CLOSED' })
})
