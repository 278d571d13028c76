import type { Stream } from '@libp2p/interface'
import { P2pError } from '../errors.js'
import { type FrameChannel, frameChannel } from '../frames.js'
import { type AckFrame, ackFrame, MAX_MESSAGE_FRAME_BYTES, type MessageFrame } from './wire.js'

interface Waiter {
  resolve(ack: AckFrame): void
  reject(err: Error): void
}

/**
 * One long-lived message stream to one peer. Frames are pipelined: many
 * messages can be in flight, and acks are matched by message id, so a slow
 * write on the receiver never blocks the ones behind it.
 */
export class MessageLink {
  private readonly waiters = new Map<string, Waiter>()
  private readonly channel: FrameChannel<AckFrame>
  private open = true
  /** Resolves when the stream has ended for any reason. */
  readonly closed: Promise<void>

  constructor(private readonly stream: Stream) {
    this.channel = frameChannel(stream, ackFrame, MAX_MESSAGE_FRAME_BYTES)
    this.closed = this.readAcks()
  }

  get isOpen(): boolean {
    return this.open
  }

  /** Sends one message and waits for its ack (or the signal). */
  async request(frame: MessageFrame, signal: AbortSignal): Promise<AckFrame> {
    if (!this.open) throw new P2pError('ERR_LINK_CLOSED', 'message stream closed')
    signal.throwIfAborted()
    return new Promise<AckFrame>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(frame.id)
        reject(new P2pError('ERR_ACK_TIMEOUT', 'no ack before the deadline', { cause: signal.reason }))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.set(frame.id, {
        resolve: (ack) => {
          signal.removeEventListener('abort', onAbort)
          resolve(ack)
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort)
          reject(err)
        },
      })
      this.channel.send(frame)
    })
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
      for (const w of this.waiters.values()) w.reject(failure)
      this.waiters.clear()
    }
  }
}
