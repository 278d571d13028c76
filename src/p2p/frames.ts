import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import type { z } from 'zod'
import { P2pError } from './errors.js'

/** Largest frame any of our protocols accepts (bytes, before JSON parsing). */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024

/**
 * Most bytes a stream may hold unsent because the peer does not read them
 * (the muxer's send window is full). Past it the stream is cut off with
 * ERR_PEER_STALLED: four of the largest frames, so a slow but reading peer is
 * never cut off for one burst.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * DEFAULT_MAX_FRAME_BYTES

/** A stream cut off because its peer stopped reading (metrics, logs). */
export interface StalledStream {
  /** The peer id of the other end. */
  peer: string
  /** The protocol the stream negotiated. */
  protocol: string
  /** Bytes held unsent when it was cut off. */
  bufferedBytes: number
}

export interface FrameChannelOptions {
  /** Largest frame read (bytes); default DEFAULT_MAX_FRAME_BYTES. */
  maxFrameBytes?: number
  /** Most unsent bytes held for a peer that does not read; default DEFAULT_MAX_BUFFERED_BYTES. */
  maxBufferedBytes?: number
  /** The peer id of the other end, for the stall report. */
  peer?: string
  /** Called once when the stream is cut off for that. */
  onStalled?(stalled: StalledStream): void
}

/** A stream of length-prefixed JSON frames: writes never block but are bounded, reads are schema-checked. */
export interface FrameChannel<In> {
  /** Queues one frame; never blocks. A peer that lets too much pile up is cut off (ERR_PEER_STALLED). */
  send(frame: unknown): void
  /** The incoming frames; throws ERR_BAD_FRAME on an oversized, non-JSON or off-schema frame. */
  frames(): AsyncGenerator<In>
  /** Ends our side of the stream once what is queued has been written. */
  end(): void
}

/** Wraps a libp2p stream; a bad frame or a stalled peer is an error for this stream only. */
export function frameChannel<S extends z.ZodType>(
  stream: Stream,
  schema: S,
  opts: FrameChannelOptions = {},
): FrameChannel<z.output<S>> {
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  const maxBufferedBytes = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
  const encoder = new TextEncoder()
  let ending = false
  // Frames queued in the same tick leave as one chunk: one muxer frame, one
  // encryption, one socket write, instead of one each per message.
  let batch: Uint8Array[] = []
  const flush = (): void => {
    const chunks = batch
    batch = []
    if (chunks.length === 0 || stream.writeStatus !== 'writable') return
    try {
      stream.send(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
    } catch {
      // Closed under us: the reader sees the same failure; the owner of the channel handles it there.
      return
    }
    // send() returning false only means the muxer's window is full; the stream
    // keeps the rest. What it keeps is bounded here, not by the peer's goodwill.
    const buffered = stream.writeBufferLength
    if (buffered > maxBufferedBytes) {
      const peer = opts.peer ?? 'unknown'
      opts.onStalled?.({ peer, protocol: stream.protocol, bufferedBytes: buffered })
      stream.abort(new P2pError('ERR_PEER_STALLED', `peer ${peer} stopped reading: ${buffered} bytes unsent, the bound is ${maxBufferedBytes}`))
    }
  }
  return {
    send(frame) {
      if (ending) return
      if (batch.length === 0) queueMicrotask(flush)
      const body = encoder.encode(JSON.stringify(frame))
      const prefix = varint.encodingLength(body.byteLength)
      const framed = new Uint8Array(prefix + body.byteLength)
      varint.encode(body.byteLength, framed)
      framed.set(body, prefix)
      batch.push(framed)
    },
    end() {
      if (ending) return
      flush()
      ending = true
      if (stream.writeStatus === 'writable') stream.close().catch(() => {})
    },
    frames() {
      return readFrames(stream, schema, maxFrameBytes)
    },
  }
}

/** Unread frames held before the stream is paused (the muxer then stops granting the peer window). */
const READ_AHEAD_FRAMES = 64
/** A varint length prefix of more bytes than this is longer than any frame we accept. */
const MAX_PREFIX_BYTES = 5

/**
 * The incoming frames, cut from the stream's 'message' events as they arrive
 * (no async iterator per chunk) and parsed as the consumer takes them. The
 * consumer sets the pace: once READ_AHEAD_FRAMES frames or a largest frame's
 * worth of bytes wait unread, the stream is paused, so a peer sending faster
 * than we handle is held back by the muxer's window, not by our memory.
 */
async function* readFrames<S extends z.ZodType>(stream: Stream, schema: S, maxFrameBytes: number): AsyncGenerator<z.output<S>> {
  const decoder = new TextDecoder()
  const buffer = new Uint8ArrayList()
  const ready: Uint8Array[] = []
  let readyBytes = 0
  let failure: Error | null = null
  let ended = false
  let wake: (() => void) | null = null
  const notify = (): void => {
    const w = wake
    wake = null
    w?.()
  }
  const cut = (): void => {
    while (buffer.byteLength > 0) {
      let prefix = 0
      while (prefix < buffer.byteLength && prefix < MAX_PREFIX_BYTES && buffer.get(prefix) >= 0x80) prefix++
      if (prefix === MAX_PREFIX_BYTES) throw new P2pError('ERR_BAD_FRAME', `frame larger than ${maxFrameBytes} bytes`)
      if (prefix === buffer.byteLength) return
      const length = varint.decode(buffer)
      if (length > maxFrameBytes) throw new P2pError('ERR_BAD_FRAME', `frame larger than ${maxFrameBytes} bytes`)
      const headerBytes = prefix + 1
      if (buffer.byteLength < headerBytes + length) return
      const body = buffer.subarray(headerBytes, headerBytes + length)
      buffer.consume(headerBytes + length)
      ready.push(body)
      readyBytes += body.byteLength
    }
  }
  const full = (): boolean => ready.length >= READ_AHEAD_FRAMES || readyBytes + buffer.byteLength >= maxFrameBytes
  const onMessage = (evt: StreamMessageEvent): void => {
    if (failure !== null) return
    buffer.append(evt.data)
    try {
      cut()
    } catch (err) {
      failure = err as Error
    }
    if (full() && stream.readStatus === 'readable') stream.pause()
    notify()
  }
  const onEnd = (): void => {
    ended = true
    notify()
  }
  const onClose = (evt: StreamCloseEvent): void => {
    if (evt.error !== undefined && failure === null) failure = evt.error
    onEnd()
  }
  if (stream.readStatus !== 'readable' && stream.readStatus !== 'paused') return
  stream.addEventListener('message', onMessage)
  stream.addEventListener('remoteCloseWrite', onEnd)
  stream.addEventListener('close', onClose)
  try {
    while (true) {
      const body = ready.shift()
      if (body !== undefined) {
        readyBytes -= body.byteLength
        if (!full() && stream.readStatus === 'paused') stream.resume()
        yield parseFrame(body, schema, decoder)
        continue
      }
      if (failure !== null) throw failure
      if (ended) {
        if (buffer.byteLength > 0) throw new P2pError('ERR_BAD_FRAME', `stream ended inside a frame (${buffer.byteLength} bytes)`)
        return
      }
      await new Promise<void>((resolve) => {
        wake = resolve
      })
    }
  } finally {
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('remoteCloseWrite', onEnd)
    stream.removeEventListener('close', onClose)
  }
}

/** One frame's JSON, checked against the protocol's schema. */
function parseFrame<S extends z.ZodType>(body: Uint8Array, schema: S, decoder: InstanceType<typeof TextDecoder>): z.output<S> {
  let parsed: unknown
  try {
    parsed = JSON.parse(decoder.decode(body))
  } catch (err) {
    throw new P2pError('ERR_BAD_FRAME', 'frame is not JSON', { cause: err })
  }
  const result = schema.safeParse(parsed)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new P2pError('ERR_BAD_FRAME', `frame field ${issue?.path.join('.') || '(root)'}: ${issue?.message}`)
  }
  return result.data as z.output<S>
}
