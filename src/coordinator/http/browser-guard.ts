import type { IncomingHttpHeaders } from 'node:http'
import { isIP } from 'node:net'
import type { Context, Next } from 'koa'
import { ApiError } from '../errors.js'

/**
 * Browsers are outsiders. A page the operator happens to have open can send
 * requests to a daemon it can reach (a `text/plain` POST or a form needs no
 * CORS preflight), or rebind its own name to 127.0.0.1 and read the answers
 * as same-origin (DNS rebinding). The daemon serves no CORS, so it refuses:
 * a `Host` that does not name it, an `Origin` (or `Sec-Fetch-Site`) that is
 * not its own, and a body that is not JSON (the one type a page cannot send
 * cross-origin without a preflight the daemon never grants).
 */

/** The daemon's names besides loopback names and IP literals: node.name, coordinator.host, coordinator.allowedHosts. */
export interface BrowserGuardInit {
  allowedHosts: readonly string[]
}

/** The parts of a request the guard reads (an IncomingMessage has them). */
export interface GuardedRequest {
  method?: string | undefined
  url?: string | undefined
  headers: IncomingHttpHeaders
}

export class HostNotAllowedError extends ApiError {
  constructor(host: string) {
    super(
      'HOST_NOT_ALLOWED',
      `Host "${host.slice(0, 100)}" does not name this daemon`,
      'call it by a loopback name, an IP address, or its node name; add other names it is reached by to coordinator.allowedHosts',
    )
  }
}

export class ForeignOriginError extends ApiError {
  constructor(what: string) {
    super(
      'FOREIGN_ORIGIN',
      `refused a request from another origin (${what.slice(0, 120)})`,
      'the API and the dashboard answer only pages served by this daemon (its /ui); other clients send no Origin header',
    )
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  constructor(type: string) {
    super(
      'UNSUPPORTED_MEDIA_TYPE',
      type === '' ? 'a request body needs a Content-Type header' : `Content-Type "${type.slice(0, 100)}" is not accepted`,
      'send the body as JSON with the header Content-Type: application/json (curl: -H "Content-Type: application/json")',
    )
  }
}

/** The hostname of a Host header (lowercase, IPv6 without brackets), or null when it is malformed. */
export function hostName(host: string): string | null {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/i.exec(host)
  if (m === null) return null
  return (m[1] ?? m[2]!).toLowerCase()
}

/** Whether a Host header's name cannot be a rebound name: loopback names, IP literals, or the daemon's own names. */
export function hostAllowed(name: string, allowed: ReadonlySet<string>): boolean {
  // *.localhost never reaches DNS in browsers (RFC 6761), so it cannot be rebound either.
  return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || allowed.has(name.replace(/\.$/, ''))
}

/** application/json, application/<x>+json, with any parameters (charset). */
const JSON_TYPE = /^application\/(?:[a-z0-9!#$&^_.-]+\+)?json$/

/** host[:port] of an http(s) URL, normalised (case, default port), or null. */
function hostOf(url: string): string | null {
  try {
    const u = new URL(url)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.host : null
  } catch {
    return null
  }
}

/** Why this request must be refused, or null. The one rule; the Koa middleware and the /health fast path both ask it. */
export function browserRefusal(req: GuardedRequest, allowed: ReadonlySet<string>): ApiError | null {
  const h = req.headers
  const method = (req.method ?? 'GET').toUpperCase()
  const host = h.host
  if (host !== undefined) {
    const name = hostName(host)
    if (name === null || !hostAllowed(name, allowed)) return new HostNotAllowedError(host)
  }

  const origin = h.origin
  if (origin !== undefined) {
    // Compared by host and port: the daemon serves plain HTTP, and TLS, where used, ends in a proxy
    // in front of it that keeps the Host (so the dashboard's origin is https://that-host).
    const own = host === undefined ? null : hostOf(`http://${host}`)
    if (own === null || hostOf(origin) !== own) return new ForeignOriginError(`Origin: ${origin}`)
  }
  const site = h['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    // Following a link to the dashboard from elsewhere is fine: a top-level page load shows it to the user only.
    const path = (req.url ?? '').split('?')[0]!
    const dashboard = (method === 'GET' || method === 'HEAD') && h['sec-fetch-mode'] === 'navigate'
      && h['sec-fetch-dest'] === 'document' && (path === '/ui' || path.startsWith('/ui/'))
    if (!dashboard) return new ForeignOriginError(`Sec-Fetch-Site: ${site}`)
  }

  const type = (h['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  const hasBody = h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0')
  // A form always names its type, so an empty form POST is refused here too, not only by its Origin.
  const typed = h['content-type'] !== undefined && method !== 'GET' && method !== 'HEAD'
  if ((hasBody || typed) && !JSON_TYPE.test(type)) return new UnsupportedMediaTypeError(type)
  return null
}

/** The names the Host header may carry besides loopback names and IP literals, lowercased. */
export function allowedHostSet(init: BrowserGuardInit): ReadonlySet<string> {
  return new Set(init.allowedHosts.map((n) => n.toLowerCase().replace(/\.$/, '')))
}

/** The Koa middleware: runs before every route (health, openapi, dashboard, streams, and any added later). */
export function browserGuard(init: BrowserGuardInit) {
  const allowed = allowedHostSet(init)
  return async (ctx: Context, next: Next): Promise<void> => {
    const refusal = browserRefusal(ctx.req, allowed)
    if (refusal !== null) {
      ctx.set('Connection', 'close')
      throw refusal
    }
    return next()
  }
}
