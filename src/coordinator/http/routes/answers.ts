import { z } from 'zod'
import { ERROR_CODES, type ErrorCode } from '../../errors.js'

/**
 * Pieces the routes' answer schemas share. Objects are open (extra fields may
 * come in later versions); the fields listed are promised.
 */

export const success = z.literal('success')
export const time = z.string().describe('ISO 8601 time')
/** A JSON object of any fields. */
export const object = z.record(z.string(), z.unknown())

/** The error body every error answer has; `code` narrowed to the codes given. */
export function errorAnswer(codes: readonly ErrorCode[] = ERROR_CODES) {
  return z.looseObject({
    status: z.literal('error'),
    code: z.enum(codes as [ErrorCode, ...ErrorCode[]]).describe('stable machine-readable code (see the Error schema for all)'),
    message: z.string().describe('what went wrong, naming the field'),
    detail: z.string().nullable().optional().describe('what to do about it'),
  })
}
