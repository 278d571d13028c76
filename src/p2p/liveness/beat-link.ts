import type { Connection, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from 'pino'
import { P2pError } from '../errors.js'
import { type FrameChannel, frameChannel, type StalledStream } from '../frames.js'
import type { MeshLibp2p } from '../mesh-node.js'
import { type BeatFrame, beatFrame, LIVENESS_PROTOCOL, MAX_LIVENESS_FRAME_BYTES } from './wire.js'

/**
 * The serving side of the liveness protocol: every beat from a member is
 * echoed; anyone else is closed at once.
 */
export function serveBeats(
  stream: Stream,
  connection: Connection,
  isMember: (peerId: string) => boolean,
  log: Logger,
  onStalled?: (s: StalledStream) => void,
): void {
  const peer = connection.remotePeer.toString()
  if (!isMember(peer)) {
    // No echo for a non-member. Not counted as a refusal: a member we have not bound yet (its first
    // status still on its way) beats us too, and its beats failing fast count for nothing there.
    log.debug({ peer }, 'liveness stream from a peer with no bound name closed')
    stream.abort(new P2pError('ERR_UNKNOWN_PEER', 'not a cluster member'))
    return
  }
  const channel = frameChannel(stream, beatFrame, { maxFrameBytes: MAX_LIVENESS_FRAME_BYTES, peer, onStalled })
  const run = async (): Promise<void> => {
    for await (const beat of channel.frames()) channel.send(beat)
    channel.end()
  }
  run().catch((err: unknown) => {
    log.debug({ peer, err: (err as Error).message }, 'liveness stream ended')
    stream.abort(err as Error)
  })
}

/**
 * Pings over one long-lived liveness stream per peer (opened on first use,
 * again after it broke): one small frame each way, where libp2p's ping
 * protocol opens and negotiates a new stream every time. One ping per peer is
 * in flight at a time, shared by every caller.
 */
export class BeatPinger {
  private readonly pings = new Map<string, Promise<void>>()
  private readonly links = new Map<string, BeatLink>()

  constructor(
    private readonly node: Pick<MeshLibp2p, 'dialProtocol'>,
    private readonly onStalled?: (s: StalledStream) => void,
  ) {}

  /** Pings a peer, joining a ping already in flight to it, and gives up after waitMs either way. */
  ping(peerId: string, waitMs: number): Promise<void> {
    const timeoutMs = Math.max(1, Math.ceil(waitMs))
    const shared = this.pings.get(peerId)
    if (shared !== undefined) return withTimeout(shared, timeoutMs)
    const p = this.beat(peerId, timeoutMs).finally(() => this.pings.delete(peerId))
    this.pings.set(peerId, p)
    return p
  }

  /** Closes every link (stop). */
  closeAll(): void {
    for (const link of this.links.values()) link.close()
    this.links.clear()
  }

  private async beat(peerId: string, timeoutMs: number): Promise<void> {
    let link = this.links.get(peerId)
    const started = performance.now()
    if (link === undefined || !link.isOpen) {
      const opening = new AbortController()
      const timer = setTimeout(() => opening.abort(new P2pError('ERR_PING_TIMEOUT', `no liveness stream within ${timeoutMs} ms`)), timeoutMs)
      const stream = await this.node.dialProtocol(peerIdFromString(peerId), LIVENESS_PROTOCOL, { signal: opening.signal })
        .catch((err: unknown) => {
          // Silence while opening is a timeout like any other; a refusal is not.
          throw opening.signal.aborted ? opening.signal.reason as P2pError : err
        })
        .finally(() => clearTimeout(timer))
      link = new BeatLink(stream, { peer: peerId, onStalled: this.onStalled })
      this.links.get(peerId)?.close()
      this.links.set(peerId, link)
      const opened = link
      void opened.closed.then(() => {
        if (this.links.get(peerId) === opened) this.links.delete(peerId)
      })
    }
    await link.beat(Math.max(1, Math.ceil(timeoutMs - (performance.now() - started))))
  }
}

/**
 * Our side of one liveness stream: a beat waits for any echo (an echo of an
 * earlier beat, arriving now, proves the peer is alive now just as well).
 */
export class BeatLink {
  private readonly channel: FrameChannel<BeatFrame>
  private n = 0
  private readonly waiters = new Set<{ resolve(): void, reject(err: Error): void }>()
  private open = true
  readonly closed: Promise<void>

  constructor(private readonly stream: Stream, stalls: { peer?: string, onStalled?(s: StalledStream): void } = {}) {
    this.channel = frameChannel(stream, beatFrame, { maxFrameBytes: MAX_LIVENESS_FRAME_BYTES, ...stalls })
    this.closed = this.read()
  }

  get isOpen(): boolean {
    return this.open
  }

  beat(timeoutMs: number): Promise<void> {
    if (!this.open) return Promise.reject(new P2pError('ERR_LINK_CLOSED', 'liveness stream closed'))
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
        reject: (err: Error) => {
          clearTimeout(timer)
          reject(err)
        },
      }
      // A timer we hold: on Node 20 AbortSignal.timeout/any composites can be collected and never fire.
      const timer = setTimeout(() => {
        this.waiters.delete(waiter)
        reject(new P2pError('ERR_PING_TIMEOUT', `no answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.add(waiter)
      this.channel.send({ n: ++this.n })
    })
  }

  close(): void {
    this.stream.abort(new P2pError('ERR_LINK_CLOSED', 'liveness stream closed'))
  }

  private async read(): Promise<void> {
    let failure = new P2pError('ERR_LINK_CLOSED', 'peer closed the liveness stream')
    try {
      for await (const _beat of this.channel.frames()) {
        for (const w of this.waiters) w.resolve()
        this.waiters.clear()
      }
    } catch (err) {
      failure = new P2pError('ERR_LINK_CLOSED', `liveness stream failed: ${(err as Error).message}`, { cause: err })
    } finally {
      this.open = false
      for (const w of this.waiters) w.reject(failure)
      this.waiters.clear()
    }
  }
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new P2pError('ERR_PING_TIMEOUT', `no ping answer within ${ms} ms`)), ms)
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}
