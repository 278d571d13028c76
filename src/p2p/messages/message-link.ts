import type { Stream } from '@libp2p/interface'
import { P2pError } from '../errors.js'
import { type FrameChannel, frameChannel, type StalledStream } from '../frames.js'
import { type AckFrame, ackFrame, MAX_MESSAGE_FRAME_BYTES, type MessageFrame } from './wire.js'

interface Waiter {
  resolve(ack: AckFrame): void
  reject(err: Error): void
  /** ms since the epoch after which the ack is no longer awaited. */
  deadline: number
}

/** How often awaited acks are checked against their deadlines (a timer per link, not per message; none while none is awaited). */
const SWEEP_MS = 100

/**
 * One long-lived message stream to one peer. Frames are pipelined: many
 * messages can be in flight, and acks are matched by message id, so a slow
 * write on the receiver never blocks the ones behind it.
 */
export class MessageLink {
  private readonly waiters = new Map<string, Waiter>()
  private readonly channel: FrameChannel<AckFrame>
  private open = true
  private sweeper: NodeJS.Timeout | null = null
  /** Resolves when the stream has ended for any reason. */
  readonly closed: Promise<void>

  constructor(private readonly stream: Stream, stalls: { peer?: string, onStalled?(s: StalledStream): void } = {}) {
    this.channel = frameChannel(stream, ackFrame, { maxFrameBytes: MAX_MESSAGE_FRAME_BYTES, ...stalls })
    this.closed = this.readAcks()
  }

  private sweep(): void {
    if (this.waiters.size === 0) {
      this.stopSweeper()
      return
    }
    const now = Date.now()
    for (const [id, w] of this.waiters) {
      if (w.deadline <= now) {
        this.waiters.delete(id)
        w.reject(new P2pError('ERR_ACK_TIMEOUT', 'no ack before the deadline'))
      }
    }
  }

  get isOpen(): boolean {
    return this.open
  }

  /** Sends one message and waits for its ack until the deadline (ms since the epoch). */
  async request(frame: MessageFrame, deadline: number): Promise<AckFrame> {
    if (!this.open) throw new P2pError('ERR_LINK_CLOSED', 'message stream closed')
    return new Promise<AckFrame>((resolve, reject) => {
      this.waiters.set(frame.id, { resolve, reject, deadline })
      if (this.sweeper === null) {
        this.sweeper = setInterval(() => this.sweep(), SWEEP_MS)
        this.sweeper.unref()
      }
      this.channel.send(frame)
    })
  }

  private stopSweeper(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper)
    this.sweeper = null
  }

  close(): void {
    this.channel.end()
    this.stream.abort(new P2pError('ERR_LINK_CLOSED', 'message link closed'))
  }

  private async readAcks(): Promise<void> {
    let failure: Error = new P2pError('ERR_LINK_CLOSED', 'peer closed the message stream')
    try {
      for await (const ack of this.channel.frames()) {
        const waiter = this.waiters.get(ack.id)
        this.waiters.delete(ack.id)
        waiter?.resolve(ack)
      }
    } catch (err) {
      failure = new P2pError('ERR_LINK_CLOSED', `message stream failed: ${(err as Error).message}`, { cause: err })
    } finally {
      this.open = false
      this.stopSweeper()
      for (const w of this.waiters.values()) w.reject(failure)
      this.waiters.clear()
    }
  }
}
