import type { Context, Next } from 'koa'
import type { Logger } from 'pino'
import { ApiError } from '../errors.js'
import { fromDomainError } from './domain-errors.js'

/**
 * The one place errors become responses. Only ApiError text reaches the
 * client; anything else is logged with its stack and answered with a bare 500.
 */
export function errorBodies(log: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next()
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new ApiError(
          'NOT_FOUND',
          `no route for ${ctx.method} ${ctx.path}`,
          'GET /openapi.json lists every route (docs/api.md explains them)',
        )
      }
    } catch (caught) {
      const err = fromDomainError(caught) ?? caught
      if (err instanceof ApiError) {
        ctx.status = err.status
        ctx.body = { status: 'error', code: err.code, message: err.message, detail: err.detail ?? null }
        if (err.status >= 500) log.warn({ code: err.code, err: err.cause ?? err }, err.message)
        return
      }
      const status = (err as { status?: number, expose?: boolean }).status
      if ((err as { expose?: boolean }).expose === true && typeof status === 'number' && status < 500) {
        // koa-router's 405 (HTTP_405 in the catalog) and any other HttpError meant for the client
        ctx.status = status
        ctx.body = { status: 'error', code: `HTTP_${status}`, message: (err as Error).message, detail: null }
        return
      }
      log.error({ err, method: ctx.method, path: ctx.path }, 'request failed')
      ctx.status = 500
      ctx.body = {
        status: 'error',
        code: 'INTERNAL',
        message: 'internal error; see the daemon log',
        detail: null,
      }
    }
  }
}
