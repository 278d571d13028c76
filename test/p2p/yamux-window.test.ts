import { yamux } from '@chainsafe/libp2p-yamux'
import type { Stream, StreamMuxer } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { pushable } from 'it-pushable'
import t from 'tap'
import { Uint8ArrayList } from 'uint8arraylist'
import { installLazyWindowUpdates } from '../../src/p2p/yamux-window.js'

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

/** Two real yamux muxers, joined in memory; `toDialer` counts what the listener sends back. */
function muxerPair(onIncoming: (s: Stream) => void): { dialer: StreamMuxer, toDialer: FrameCounter, close(): void } {
  const components = { logger: defaultLogger() }
  const dialer = yamux()(components).createStreamMuxer({ direction: 'outbound' })
  const listener = yamux()(components).createStreamMuxer({ direction: 'inbound', onIncomingStream: onIncoming })
  const toDialer = new FrameCounter()
  const pipe = (from: StreamMuxer, to: StreamMuxer, counter?: FrameCounter): void => {
    const q = pushable<Uint8Array | Uint8ArrayList>()
    Promise.resolve(to.sink(q)).catch(() => {})
    void (async () => {
      for await (const chunk of from.source) {
        counter?.see(chunk)
        q.push(chunk)
      }
      q.end()
    })().catch(() => q.end())
  }
  pipe(dialer, listener)
  pipe(listener, dialer, toDialer)
  const close = (): void => {
    dialer.abort(new Error('done'))
    listener.abort(new Error('done'))
  }
  return { dialer, toDialer, close }
}

t.test('small frames read one at a time send no window update back until half the window is used', async (t) => {
  const received: Uint8Array[] = []
  const echoed = pushable<Uint8Array>()
  const { dialer, toDialer, close } = muxerPair((stream) => {
    stream.sink(echoed).catch(() => {})
    void (async () => {
      for await (const chunk of stream.source) {
        received.push(chunk.subarray())
        echoed.push(new Uint8Array([1]))
      }
    })().catch(() => {}) // aborted at teardown
  })
  t.teardown(close)
  const stream = await dialer.newStream()
  const out = pushable<Uint8Array>()
  stream.sink(out).catch(() => {})
  const echoes = stream.source[Symbol.asyncIterator]()
  // 200 beats of 8 bytes, each answered before the next: the liveness pattern.
  for (let i = 0; i < 200; i++) {
    out.push(new Uint8Array(8).fill(i))
    const echo = await echoes.next()
    if (echo.done === true) return t.fail('stream ended early')
  }
  t.equal(received.reduce((n, c) => n + c.byteLength, 0), 1600, 'every byte arrived')
  // The stream's opening ACK may travel on a window update; past that, none for 1.6 kB of a 256 kB window.
  t.ok(toDialer.count(WINDOW_UPDATE) <= 1, `window updates sent back for 200 small frames: ${toDialer.count(WINDOW_UPDATE)} (the library alone sends one per frame)`)
  out.end()
})

t.test('a transfer many windows long still flows, with an update per half window', async (t) => {
  const total = 4 * 1024 * 1024
  let got = 0
  let arrived = (): void => {}
  const all = new Promise<void>((resolve) => {
    arrived = resolve
  })
  const { dialer, toDialer, close } = muxerPair((stream) => {
    void (async () => {
      for await (const chunk of stream.source) {
        got += chunk.byteLength
        if (got >= total) arrived()
      }
    })().catch(() => {}) // aborted at teardown
  })
  t.teardown(close)
  const stream = await dialer.newStream()
  const out = pushable<Uint8Array>()
  stream.sink(out).catch(() => {})
  for (let sent = 0; sent < total; sent += 16 * 1024) out.push(new Uint8Array(16 * 1024).fill((sent / 1024) & 0xff))
  out.end()
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
  const components = { logger: defaultLogger() }
  let delivered = 0
  const listener = yamux()(components).createStreamMuxer({
    direction: 'inbound',
    onIncomingStream: (stream) => {
      void (async () => {
        for await (const chunk of stream.source) delivered += chunk.byteLength
      })().catch(() => {}) // reset with the session
    },
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
  const back = new FrameCounter()
  const answered = (async () => {
    for await (const chunk of listener.source) back.see(chunk)
  })().catch(() => {})
  await Promise.resolve(listener.sink((async function* () {
    yield frame(1, 200 * 1024)
    yield frame(0, 400 * 1024)
  })())).catch(() => {})
  await answered
  t.ok(back.count(GO_AWAY) >= 1, `the session was ended with a GoAway (frames back by type: ${JSON.stringify([...back.byType])})`)
  t.equal(delivered, 200 * 1024, 'only the 200 kB inside the window reached the stream')
})
