import type { Context } from 'koa'
import getRawBody from 'raw-body'
import sjson from 'secure-json-parse'
import type { z } from 'zod'
import { ApiError, ValidationError } from '../errors.js'

/** How deep a request body may nest (objects and arrays); deeper is refused before parsing. */
export const MAX_JSON_DEPTH = 64

/**
 * The deepest nesting of objects and arrays in JSON text, counted outside
 * strings, without parsing: parsing and validating 2,000-deep input overflows
 * the stack (a 500 instead of a 400).
 */
export function jsonDepth(text: string, stopAt = Number.POSITIVE_INFINITY): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) {
      if (++depth > max && (max = depth) > stopAt) return max
    } else if (c === 125 || c === 93) depth--
  }
  return max
}

/**
 * Reads the request body as JSON (the browser guard, before every route, has
 * refused any body not typed application/json). An empty body reads as undefined.
 * `__proto__` and `constructor.prototype` keys are refused, not silently dropped.
 */
export async function readJson(ctx: Context, limitBytes: number): Promise<unknown> {
  let text: string
  try {
    text = await getRawBody(ctx.req, { limit: limitBytes, encoding: 'utf8' })
  } catch (err) {
    const type = (err as { type?: string }).type
    if (type === 'entity.too.large') {
      throw new ApiError(
        'BODY_TOO_LARGE',
        `request body is larger than ${limitBytes} bytes`,
        'send less data',
      )
    }
    if (type === 'encoding.unsupported')
      throw new ApiError('UNSUPPORTED_ENCODING', 'send the body as UTF-8')
    throw new ApiError('BODY_UNREADABLE', 'the request body could not be read', String(err), {
      cause: err,
    })
  }
  if (text.trim() === '') return undefined
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new ApiError('JSON_TOO_DEEP', `the request body nests deeper than ${MAX_JSON_DEPTH} levels`, 'flatten the data')
  }
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    if (/prototype/i.test(message)) {
      throw new ApiError(
        'FORBIDDEN_KEY',
        'the body contains a __proto__ or constructor.prototype key',
        message,
      )
    }
    throw new ApiError('INVALID_JSON', 'the request body is not valid JSON', message)
  }
}

/** Validates data against a schema; the error names every offending field. */
export function validate<S extends z.ZodType>(schema: S, data: unknown, what = 'body'): z.infer<S> {
  const result = schema.safeParse(data)
  if (result.success) return result.data
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : what
    return `${path}: ${issue.message}`
  })
  throw new ValidationError(`invalid ${what}: ${problems[0]}`, problems.join('; '))
}
