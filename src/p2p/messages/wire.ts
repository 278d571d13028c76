import { z } from 'zod'

/** Direct protocol for messages with receipts. */
export const MESSAGE_PROTOCOL = '/aitbc/msg/1.0.0'

/** The largest messages.maxBodyBytes a node may be configured with (the config schema's ceiling). */
export const MAX_MESSAGE_BODY_CEILING_BYTES = 128 * 1024

/**
 * Largest message frame accepted on the wire: the largest body any node may
 * allow plus the envelope (id, names, times: well under 1 KiB). A frame past
 * this ends its stream before it is read whole; a smaller frame whose body
 * exceeds this node's messages.maxBodyBytes gets a rejected receipt.
 */
export const MAX_MESSAGE_FRAME_BYTES = MAX_MESSAGE_BODY_CEILING_BYTES + 4096

/** A message body's size as both the API and the receiver measure it: its JSON text in UTF-8. */
export function messageBodyBytes(body: unknown): number {
  return Buffer.byteLength(JSON.stringify(body) ?? '')
}

const name = z.string().min(1).max(63)

export const messageFrame = z.strictObject({
  t: z.literal('msg'),
  id: z.string().min(1).max(100),
  from: name,
  to: name,
  // Already parsed from JSON text, so any value is JSON; the frame size bounds it.
  body: z.unknown().refine((v) => v !== undefined, 'expected a body'),
  sent_at: z.number().int(),
  expires_at: z.number().int(),
})
export type MessageFrame = z.infer<typeof messageFrame>

export const ackFrame = z.strictObject({
  t: z.literal('ack'),
  id: z.string().min(1).max(100),
  result: z.enum(['delivered', 'duplicate', 'rejected']),
  reason: z.string().max(500).nullable(),
})
export type AckFrame = z.infer<typeof ackFrame>
