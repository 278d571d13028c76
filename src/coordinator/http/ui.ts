import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Context, Next } from 'koa'
import send from 'koa-send'
import { ApiError } from '../errors.js'

const PREFIX = '/ui'
/** The page loads only its own files and talks only to this daemon. */
const CSP = 'default-src \'self\'; img-src \'self\' data:; style-src \'self\'; script-src \'self\'; connect-src \'self\'; frame-ancestors \'none\'; base-uri \'none\''

/**
 * Serves the prebuilt dashboard (dist/ui, built by Vite with the daemon) at
 * /ui. The files hold no data and need no token; every figure on the page
 * comes from the API with the tab's token, checked as for any client.
 */
export function serveUi(dir: string): (ctx: Context, next: Next) => Promise<void> {
  const built = existsSync(join(dir, 'index.html'))
  return async (ctx, next) => {
    if (ctx.path !== PREFIX && !ctx.path.startsWith(`${PREFIX}/`)) return next()
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new ApiError('METHOD_NOT_ALLOWED', `${ctx.method} ${ctx.path}: the dashboard only answers GET`)
    if (!built) throw new ApiError('UI_NOT_BUILT', `the dashboard is not in ${dir}`, 'build it with npm run build')
    const rel = ctx.path.slice(PREFIX.length).replace(/^\/+/, '')
    const asset = rel.startsWith('assets/')
    ctx.set('content-security-policy', CSP)
    ctx.set('x-content-type-options', 'nosniff')
    try {
      // koa-send refuses paths outside root (.., encoded or not) and hidden files.
      await send(ctx, rel === '' ? 'index.html' : rel, {
        root: dir, index: 'index.html', immutable: asset, maxage: asset ? 365 * 24 * 3600 * 1000 : 0,
      })
    } catch (err) {
      const status = (err as { status?: number }).status
      if (status === 404 || status === 400 || status === 403) throw new ApiError('NOT_FOUND', `no ${ctx.path} in the dashboard`, 'open /ui')
      throw err
    }
  }
}
