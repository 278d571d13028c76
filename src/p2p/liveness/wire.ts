import { z } from 'zod'

/** The liveness protocol: one long-lived stream per connection, each beat echoed as it comes. */
export const LIVENESS_PROTOCOL = '/aitbc/liveness/1.0.0'

/** Largest liveness frame accepted (a beat is a dozen bytes). */
export const MAX_LIVENESS_FRAME_BYTES = 64

export const beatFrame = z.strictObject({ n: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) })
export type BeatFrame = z.infer<typeof beatFrame>
