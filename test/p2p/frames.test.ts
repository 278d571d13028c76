import type { Stream, StreamMuxer } from '@libp2p/interface'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import t, { type Test } from 'tap'
import { z } from 'zod'
import { DEFAULT_MAX_BUFFERED_BYTES, frameChannel, type StalledStream } from '../../src/p2p/frames.js'
import { installPromiseWithResolvers } from '../../src/p2p/polyfill.js'
import { installLazyWindowUpdates } from '../../src/p2p/yamux-window.js'

installPromiseWithResolvers()
installLazyWindowUpdates()

const frame = z.object({ n: z.number(), pad: z.string().optional() })

/** Two real yamux muxers over an in-memory connection; resolves with both ends of one stream. */
async function streamPair(t: Test): Promise<{ dialer: Stream, listener: Stream }> {
  const [outbound, inbound] = multiaddrConnectionPair()
  const a: StreamMuxer = yamux()().createStreamMuxer(outbound)
  const b: StreamMuxer = yamux()().createStreamMuxer(inbound)
  t.teardown(() => {
    a.abort(new Error('done'))
    b.abort(new Error('done'))
  })
  const incoming = new Promise<Stream>((resolve) => b.addEventListener('stream', (evt) => resolve(evt.detail), { once: true }))
  const dialer = await a.createStream()
  dialer.send(new Uint8Array(0))
  return { dialer, listener: await incoming }
}

t.test('frames sent in one tick arrive in order, checked against the schema', async (t) => {
  const { dialer, listener } = await streamPair(t)
  const out = frameChannel(dialer, frame)
  const inn = frameChannel(listener, frame)
  for (let n = 0; n < 100; n++) out.send({ n })
  out.end()
  const got: number[] = []
  for await (const f of inn.frames()) got.push(f.n)
  t.same(got, Array.from({ length: 100 }, (_, n) => n), 'all 100, in order, then the end')
})

t.test('a bad frame is an error naming what is wrong, for that stream only', async (t) => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['not JSON', Uint8Array.of(3, 0x7b, 0x7b, 0x7b), /not JSON/],
    ['a length past the bound', Uint8Array.of(0x80, 0x80, 0x80, 0x10, 1, 2, 3), /larger than 1024 bytes/],
    ['a length prefix that never ends', Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff), /larger than/],
  ]
  for (const [what, bytes, error] of cases) {
    const { dialer, listener } = await streamPair(t)
    const inn = frameChannel(listener, frame, { maxFrameBytes: 1024 })
    dialer.send(bytes)
    await t.rejects(async () => {
      for await (const _ of inn.frames()) { /* none expected */ }
    }, { code: 'ERR_BAD_FRAME', message: error }, what)
  }
})

t.test('a field off the schema is named', async (t) => {
  const { dialer, listener } = await streamPair(t)
  frameChannel(dialer, z.unknown()).send({ n: 'seven' })
  const inn = frameChannel(listener, frame)
  await t.rejects(async () => {
    for await (const _ of inn.frames()) { /* none expected */ }
  }, { code: 'ERR_BAD_FRAME', message: /frame field n/ })
})

t.test('a slow reader of many large frames gets them all: the stream pauses, nothing is dropped or reset', async (t) => {
  const { dialer, listener } = await streamPair(t)
  const out = frameChannel(dialer, frame)
  const inn = frameChannel(listener, frame)
  const pad = 'p'.repeat(200 * 1024)
  // 40 frames of 200 KiB (8 MB, twice the send bound), written as fast as the window lets.
  let sent = 0
  const writer = (async () => {
    while (sent < 40) {
      out.send({ n: sent++, pad })
      await new Promise((resolve) => setImmediate(resolve))
      if (dialer.writableNeedsDrain) await dialer.onDrain()
    }
    out.end()
  })()
  let got = 0
  let maxUnread = 0
  for await (const f of inn.frames()) {
    t.equal(f.n, got, `frame ${got}`)
    got++
    maxUnread = Math.max(maxUnread, listener.readBufferLength)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await writer
  t.equal(got, 40, 'all 40 arrived')
  t.ok(maxUnread <= 4 * 1024 * 1024, `at most ${maxUnread} bytes waited in the paused stream`)
})

t.test('a peer that stops reading is cut off once the bound is unsent, reported once', async (t) => {
  const { dialer, listener } = await streamPair(t)
  listener.pause() // reads nothing: yamux then grants no more window
  const stalls: StalledStream[] = []
  const out = frameChannel(dialer, frame, { peer: 'peer-x', onStalled: (s) => stalls.push(s) })
  const closed = new Promise<Error | undefined>((resolve) => dialer.addEventListener('close', (evt) => resolve(evt.error), { once: true }))
  const pad = 'q'.repeat(64 * 1024)
  let maxBuffered = 0
  for (let n = 0; n < 1000 && dialer.status === 'open'; n++) {
    out.send({ n, pad })
    await new Promise((resolve) => setImmediate(resolve))
    maxBuffered = Math.max(maxBuffered, dialer.writeBufferLength)
  }
  const error = await closed
  t.match(error, { code: 'ERR_PEER_STALLED', message: /peer peer-x stopped reading/ }, 'the stream was cut off with the code')
  t.equal(stalls.length, 1, 'reported once')
  t.match(stalls[0], { peer: 'peer-x', protocol: dialer.protocol })
  t.ok(stalls[0]!.bufferedBytes > DEFAULT_MAX_BUFFERED_BYTES, `cut off at ${stalls[0]!.bufferedBytes} bytes unsent`)
  t.ok(maxBuffered <= DEFAULT_MAX_BUFFERED_BYTES + 128 * 1024, `never more than the bound and one frame held (${maxBuffered})`)
  out.send({ n: -1 })
  t.equal(stalls.length, 1, 'a send after the cut-off is dropped, not an error')
})
