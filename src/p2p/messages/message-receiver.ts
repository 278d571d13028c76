import type { Connection, Stream } from '@libp2p/interface'
import type { Logger } from 'pino'
import { frameChannel, type StalledStream } from '../frames.js'
import type { PeerDirectory } from '../dial-node.js'
import type { Refusal } from '../name-bindings.js'
import type { MessageStore } from './message-store.js'
import type { SenderRate } from './sender-rate.js'
import { type AckFrame, MAX_MESSAGE_FRAME_BYTES, type MessageFrame, messageBodyBytes, messageFrame } from './wire.js'

/** Why a member's message was refused with a rejected receipt (metrics label; the start of the receipt's reason). */
export type MessageRefusalReason = 'rate_limited' | 'too_large'

/** Messages persisted concurrently per inbound stream. */
export const DEFAULT_MAX_IN_FLIGHT = 256

export interface MessageReceiverInit {
  /** Each message stream cut off because its peer stopped reading our acks. */
  onStalled?(s: StalledStream): void
  selfName: string
  store: MessageStore
  /** Maps the authenticated peer id to its bound name. */
  directory: Pick<PeerDirectory, 'nameOf'>
  log: Logger
  /** Called for a stream from a non-member or a frame with a forged sender. */
  onRefused?(refusal: Refusal): void
  /** Messages persisted concurrently per stream (default DEFAULT_MAX_IN_FLIGHT). */
  maxInFlight?: number
  /** Called after a message is persisted for the first time. */
  onDelivered?(msg: MessageFrame): void
  /** Largest body accepted (messages.maxBodyBytes, measured by messageBodyBytes, the API's measure too). */
  maxBodyBytes: number
  /** Messages per authenticated sender; null: unlimited. */
  rate: SenderRate | null
  /** Called for a member's message refused by a bound (metrics). */
  onLimited?(reason: MessageRefusalReason, sender: string): void
}

/**
 * Serves the message protocol: persist first, then ack; a second copy of an
 * id is acked as duplicate and not stored again. A bad frame ends that stream
 * only.
 */
export function messageHandler(init: MessageReceiverInit): (stream: Stream, connection: Connection) => void {
  const maxInFlight = init.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
  return (stream, connection) => {
    const fromPeer = connection.remotePeer.toString()
    const sender = init.directory.nameOf(fromPeer)
    if (sender === null) {
      init.onRefused?.({ reason: 'unknown_peer', name: null, peerId: fromPeer, message: `peer ${fromPeer} is no cluster member; its message stream was closed` })
      stream.abort(new Error('not a cluster member'))
      return
    }
    const channel = frameChannel(stream, messageFrame, {
      maxFrameBytes: MAX_MESSAGE_FRAME_BYTES, peer: fromPeer, onStalled: init.onStalled,
    })
    const serve = async (): Promise<void> => {
      const inFlight = new Set<Promise<void>>()
      try {
        for await (const frame of channel.frames()) {
          const p = accept(init, frame, fromPeer, sender)
            .then((ack) => {
              if (ack !== null) channel.send(ack)
              // Not persisted, so no ack: closing the stream makes the sender retry soon.
              else stream.abort(new Error('inbound message could not be persisted'))
            })
            .finally(() => inFlight.delete(p))
          inFlight.add(p)
          if (inFlight.size >= maxInFlight) await Promise.race(inFlight)
        }
        await Promise.all(inFlight)
        channel.end()
      } catch (err) {
        const code = (err as { code?: string }).code
        if (code === 'ERR_BAD_FRAME') {
          init.log.warn({ peer: fromPeer, err: (err as Error).message }, 'bad message frame; stream closed')
        } else {
          init.log.debug({ peer: fromPeer, err }, 'message stream ended')
        }
        stream.abort(err as Error)
      }
    }
    serve().catch((err: unknown) => init.log.error({ err }, 'message stream handler failed'))
  }
}

async function accept(
  init: MessageReceiverInit,
  frame: MessageFrame,
  fromPeer: string,
  sender: string,
): Promise<AckFrame | null> {
  const reject = (reason: string): AckFrame => ({ t: 'ack', id: frame.id, result: 'rejected', reason })
  if (frame.from !== sender) {
    const message = `peer ${fromPeer} is ${sender} but sent a message from "${frame.from}"`
    init.onRefused?.({ reason: 'forged_from', name: frame.from, peerId: fromPeer, message })
    return reject(`from is ${frame.from} but the sender is ${sender}`)
  }
  if (frame.to !== init.selfName) return reject(`this is node ${init.selfName}, not ${frame.to}`)
  const now = Date.now()
  if (frame.expires_at <= now) return reject('expired before it arrived')
  // Every frame costs its sender, duplicates and oversized ones too: a flood is refused before it reaches Redis.
  // A rejected receipt is final, so the sender stops retrying that message.
  const waitMs = init.rate?.take(sender, now) ?? 0
  if (waitMs > 0) {
    // A copy of a message already stored (its ack was lost) is a duplicate, not a refusal: a final
    // rate_limited receipt would contradict the inbox. Only refusals cost a read, and only past the rate.
    const stored = await init.store.hasInbound(init.selfName, sender, frame.id).catch(() => null)
    if (stored === null) return null
    if (stored) return { t: 'ack', id: frame.id, result: 'duplicate', reason: null }
    init.onLimited?.('rate_limited', sender)
    return reject(`rate_limited: ${sender} sent more than ${init.rate!.describe()} to ${init.selfName}; send again after ${waitMs} ms`)
  }
  const bytes = messageBodyBytes(frame.body)
  if (bytes > init.maxBodyBytes) {
    init.onLimited?.('too_large', sender)
    return reject(`too_large: body is ${bytes} bytes; ${init.selfName} accepts at most ${init.maxBodyBytes} (messages.maxBodyBytes)`)
  }
  try {
    const result = await init.store.acceptInbound({
      id: frame.id,
      from: sender,
      from_peer: fromPeer,
      to: frame.to,
      body: frame.body,
      sent_at: frame.sent_at,
      expires_at: frame.expires_at,
      received_at: now,
    })
    if (result === 'delivered') init.onDelivered?.(frame)
    return { t: 'ack', id: frame.id, result, reason: null }
  } catch (err) {
    init.log.warn({ err, id: frame.id }, 'could not persist inbound message; sender will retry')
    return null
  }
}
