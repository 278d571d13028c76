import type { Context } from 'koa'
import getRawBody from 'raw-body'
import sjson from 'secure-json-parse'
import type { z } from 'zod'
import { ApiError, ValidationError } from '../errors.js'

/**
 * Reads the request body as JSON whatever the Content-Type says (the seeds'
 * curl examples post JSON without one). An empty body reads as undefined.
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
        413,
        'BODY_TOO_LARGE',
        `request body is larger than ${limitBytes} bytes`,
        'send less data',
      )
    }
    if (type === 'encoding.unsupported')
      throw new ApiError(415, 'UNSUPPORTED_ENCODING', 'send the body as UTF-8')
    throw new ApiError(400, 'BODY_UNREADABLE', 'the request body could not be read', String(err), {
      cause: err,
    })
  }
  if (text.trim() === '') return undefined
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    if (/prototype/i.test(message)) {
      throw new ApiError(
        400,
        'FORBIDDEN_KEY',
        'the body contains a __proto__ or constructor.prototype key',
        message,
      )
    }
    throw new ApiError(400, 'INVALID_JSON', 'the request body is not valid JSON', message)
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
