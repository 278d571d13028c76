import type { Stream } from '@libp2p/interface'
import * as lp from 'it-length-prefixed'
import { pushable } from 'it-pushable'
import type { z } from 'zod'
import { P2pError } from './errors.js'

/** Largest frame any of our protocols accepts (bytes, before JSON parsing). */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024

/** A stream of length-prefixed JSON frames: writes are queued, reads are schema-checked. */
export interface FrameChannel<In> {
  /** Queues one frame; never blocks. */
  send(frame: unknown): void
  /** The incoming frames; throws ERR_BAD_FRAME on an oversized, non-JSON or off-schema frame. */
  frames(): AsyncGenerator<In>
  /** Ends our side of the stream. */
  end(): void
}

/** Wraps a libp2p stream; a bad frame is an error for this stream only. */
export function frameChannel<S extends z.ZodType>(
  stream: Stream,
  schema: S,
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
): FrameChannel<z.output<S>> {
  const out = pushable<Uint8Array>()
  const encoder = new TextEncoder()
  const decoder = new TextDecoder()
  stream.sink(out).catch(() => {
    // The reader sees the same failure; the owner of the channel handles it there.
    out.end()
  })
  // Frames queued in the same tick leave as one chunk: one muxer frame, one
  // encryption, one socket write, instead of one each per message.
  let batch: Uint8Array[] = []
  const flush = (): void => {
    const chunks = batch
    batch = []
    if (chunks.length === 1) out.push(chunks[0]!)
    else if (chunks.length > 1) out.push(Buffer.concat(chunks))
  }
  return {
    send(frame) {
      if (batch.length === 0) queueMicrotask(flush)
      batch.push(lp.encode.single(encoder.encode(JSON.stringify(frame))).subarray())
    },
    end() {
      flush()
      out.end()
    },
    async* frames() {
      const decoded = lp.decode(stream.source, { maxDataLength: maxFrameBytes })
      for await (const chunk of withFrameErrors(decoded, maxFrameBytes)) {
        let parsed: unknown
        try {
          parsed = JSON.parse(decoder.decode(chunk.subarray()))
        } catch (err) {
          throw new P2pError('ERR_BAD_FRAME', 'frame is not JSON', { cause: err })
        }
        const result = schema.safeParse(parsed)
        if (!result.success) {
          const issue = result.error.issues[0]
          throw new P2pError('ERR_BAD_FRAME', `frame field ${issue?.path.join('.') || '(root)'}: ${issue?.message}`)
        }
        yield result.data as z.output<S>
      }
    },
  }
}

/** it-length-prefixed reports an oversized frame by error name; turn that into our code. */
async function* withFrameErrors<T>(source: AsyncIterable<T>, maxFrameBytes: number): AsyncGenerator<T> {
  try {
    yield* source
  } catch (err) {
    const name = (err as Error).name
    if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError' || name === 'InvalidMessageLengthError') {
      throw new P2pError('ERR_BAD_FRAME', `frame larger than ${maxFrameBytes} bytes`, { cause: err })
    }
    throw err
  }
}
