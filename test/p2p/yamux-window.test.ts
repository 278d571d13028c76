import type { MessageStream, Stream, StreamMuxer } from '@libp2p/interface'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import t from 'tap'
import { Uint8ArrayList } from 'uint8arraylist'
import { installPromiseWithResolvers } from '../../src/p2p/polyfill.js'
import { installLazyWindowUpdates } from '../../src/p2p/yamux-window.js'

installPromiseWithResolvers()
installLazyWindowUpdates()

const WINDOW_UPDATE = 1
const GO_AWAY = 3

/** Counts the yamux frames crossing one direction, by type (a 12-byte header, then `length` bytes for data). */
class FrameCounter {
  private readonly buf = new Uint8ArrayList()
  readonly byType = new Map<number, number>()

  see(chunk: Uint8Array | Uint8ArrayList): void {
    this.buf.append(chunk)
    for (;;) {
      if (this.buf.length < 12) return
      const type = this.buf.get(1)
      const length = this.buf.getUint32(8)
      const size = 12 + (type === 0 ? length : 0)
      if (this.buf.length < size) return
      this.byType.set(type, (this.byType.get(type) ?? 0) + 1)
      this.buf.consume(size)
    }
  }

  count(type: number): number {
    return this.byType.get(type) ?? 0
  }
}

/** Counts, on `conn`, the frames its other end sends (without consuming them: the muxer is another listener). */
function countFrames(conn: MessageStream): FrameCounter {
  const counter = new FrameCounter()
  conn.addEventListener('message', (evt) => counter.see(evt.data))
  return counter
}

/** Two real yamux muxers over an in-memory connection pair; `toDialer` counts what the listener sends back. */
function muxerPair(onIncoming: (s: Stream) => void): { dialer: StreamMuxer, toDialer: FrameCounter, close(): void } {
  const [outbound, inbound] = multiaddrConnectionPair()
  const dialer = yamux()().createStreamMuxer(outbound)
  const listener = yamux()().createStreamMuxer(inbound)
  listener.addEventListener('stream', (evt) => onIncoming(evt.detail))
  const toDialer = countFrames(outbound)
  const close = (): void => {
    dialer.abort(new Error('done'))
    listener.abort(new Error('done'))
  }
  return { dialer, toDialer, close }
}

/** Resolves with the next chunk the stream delivers. */
function nextChunk(stream: Stream): Promise<Uint8Array | Uint8ArrayList> {
  return new Promise((resolve, reject) => {
    const onMessage = (evt: { data: Uint8Array | Uint8ArrayList }): void => {
      stream.removeEventListener('close', onClose)
      resolve(evt.data)
    }
    const onClose = (): void => {
      stream.removeEventListener('message', onMessage)
      reject(new Error('stream ended early'))
    }
    stream.addEventListener('message', onMessage, { once: true })
    stream.addEventListener('close', onClose, { once: true })
  })
}

t.test('small frames read one at a time send no window update back until half the window is used', async (t) => {
  const received: Uint8Array[] = []
  const { dialer, toDialer, close } = muxerPair((stream) => {
    stream.addEventListener('message', (evt) => {
      received.push(evt.data.subarray())
      stream.send(new Uint8Array([1]))
    })
  })
  t.teardown(close)
  const stream = await dialer.createStream()
  // 200 beats of 8 bytes, each answered before the next: the liveness pattern.
  for (let i = 0; i < 200; i++) {
    const echo = nextChunk(stream)
    stream.send(new Uint8Array(8).fill(i))
    await echo
  }
  t.equal(received.reduce((n, c) => n + c.byteLength, 0), 1600, 'every byte arrived')
  // The stream's opening ACK may travel on a window update; past that, none for 1.6 kB of a 256 kB window.
  t.ok(toDialer.count(WINDOW_UPDATE) <= 1, `window updates sent back for 200 small frames: ${toDialer.count(WINDOW_UPDATE)} (the library alone sends one per frame)`)
})

t.test('a transfer many windows long still flows, with an update per half window', async (t) => {
  const total = 4 * 1024 * 1024
  let got = 0
  let arrived = (): void => {}
  const all = new Promise<void>((resolve) => {
    arrived = resolve
  })
  const { dialer, toDialer, close } = muxerPair((stream) => {
    stream.addEventListener('message', (evt) => {
      got += evt.data.byteLength
      if (got >= total) arrived()
    })
  })
  t.teardown(close)
  const stream = await dialer.createStream()
  for (let sent = 0; sent < total; sent += 16 * 1024) {
    if (!stream.send(new Uint8Array(16 * 1024).fill((sent / 1024) & 0xff))) await stream.onDrain()
  }
  let timer: NodeJS.Timeout | undefined
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stalled after ${got} of ${total} bytes`)), 20_000)
  })
  await Promise.race([all, stalled]).finally(() => clearTimeout(timer))
  t.equal(got, total, 'all 4 MB arrived (the sender was never left without window)')
  const updates = toDialer.count(WINDOW_UPDATE)
  t.ok(updates >= 4 && updates <= 64, `window updates for 4 MB: ${updates} (one per half window, not one per 16 kB chunk = 256)`)
})

t.test('an outsider that sends past the window it was given is cut off; the lazy updates give it no more room than the window', async (t) => {
  const [outsider, inbound] = multiaddrConnectionPair()
  const listener = yamux()().createStreamMuxer(inbound)
  let delivered = 0
  listener.addEventListener('stream', (evt) => {
    evt.detail.addEventListener('message', (m) => {
      delivered += m.data.byteLength
    })
  })
  t.teardown(() => listener.abort(new Error('done')))
  // Hand-made frames, as a peer ignoring flow control would write them: a stream opened with
  // SYN and 200 kB of its 256 kB window, then 400 kB: more than a whole window, which even the
  // update that the first 200 kB earn (past half the window) does not allow.
  const frame = (flag: number, length: number): Uint8Array => {
    const b = new Uint8Array(12 + length)
    const v = new DataView(b.buffer)
    v.setUint8(1, 0) // data
    v.setUint16(2, flag)
    v.setUint32(4, 1) // stream id 1, the dialer's first
    v.setUint32(8, length)
    return b
  }
  const back = countFrames(outsider)
  const ended = new Promise<void>((resolve) => outsider.addEventListener('close', () => resolve(), { once: true }))
  outsider.send(frame(1, 200 * 1024))
  outsider.send(frame(0, 400 * 1024))
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    ended,
    new Promise<void>((resolve) => {
      timer = setInterval(() => {
        if (back.count(GO_AWAY) >= 1) resolve()
      }, 20)
    }),
  ]).finally(() => clearInterval(timer))
  t.ok(back.count(GO_AWAY) >= 1, `the session was ended with a GoAway (frames back by type: ${JSON.stringify([...back.byType])})`)
  t.equal(delivered, 200 * 1024, 'only the 200 kB inside the window reached the stream')
})
