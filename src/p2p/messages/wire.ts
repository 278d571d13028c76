import { z } from 'zod'

/** Direct protocol for messages with receipts. */
export const MESSAGE_PROTOCOL = '/aitbc/msg/1.0.0'

/** Largest message frame accepted on the wire. */
export const MAX_MESSAGE_FRAME_BYTES = 256 * 1024

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
