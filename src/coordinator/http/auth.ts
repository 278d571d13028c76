import { createHash, timingSafeEqual } from 'node:crypto'
import type { Context, Next } from 'koa'
import { ApiError } from '../errors.js'

export const SCOPES = ['read', 'agent', 'operate', 'admin'] as const
/** What a token may do: read (GET), agent (register, heartbeat, task results), operate (ops, messages), admin (everything). */
export type Scope = (typeof SCOPES)[number]

/** One API token. */
export interface ApiToken {
  /** Who holds it, for logs; never the token itself. */
  name: string
  /** The bearer secret. */
  token: string
  /** Scopes granted. */
  scopes: readonly Scope[]
}

/** Authentication settings handed to the coordinator. */
export interface AuthSettings {
  tokens: readonly ApiToken[]
  /** Requests without a token get every scope; ignored once any token exists (then no request is anonymous). */
  anonymous: boolean
}

interface Principal {
  name: string
  scopes: readonly Scope[]
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

/** The configured tokens' digests, made once per token list rather than on every request. */
const digests = new WeakMap<readonly ApiToken[], Buffer[]>()

/** Finds the token's holder. Compares digests in constant time and checks every token, so timing tells nothing. */
export function findToken(tokens: readonly ApiToken[], presented: string): ApiToken | undefined {
  let known = digests.get(tokens)
  if (known === undefined || known.length !== tokens.length) {
    known = tokens.map((t) => digest(t.token))
    digests.set(tokens, known)
  }
  const p = digest(presented)
  let found: ApiToken | undefined
  for (let i = 0; i < tokens.length; i++) {
    if (timingSafeEqual(p, known[i]!) && found === undefined) found = tokens[i]
  }
  return found
}

/** Sets ctx.state.principal from the Authorization header; 401 for a missing or unknown token. */
export function authenticate(settings: AuthSettings) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const header = ctx.get('authorization')
    if (header === '') {
      if (!settings.anonymous || settings.tokens.length > 0) {
        throw new ApiError(
          'UNAUTHENTICATED',
          'this API needs a bearer token',
          'send Authorization: Bearer <token>',
        )
      }
      ctx.state.principal = { name: 'anonymous', scopes: SCOPES } satisfies Principal
      return next()
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    const token = match?.[1] === undefined ? undefined : findToken(settings.tokens, match[1])
    if (token === undefined) {
      ctx.set('WWW-Authenticate', 'Bearer')
      throw new ApiError(
        'INVALID_TOKEN',
        'the bearer token is not valid',
        'check AITBC_TOKEN or the --token flag',
      )
    }
    ctx.state.principal = { name: token.name, scopes: token.scopes } satisfies Principal
    return next()
  }
}

/** 403 unless the caller holds one of the scopes (admin holds them all). */
export function requireScope(...accepted: Scope[]) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const principal = ctx.state.principal as Principal | undefined
    const scopes = principal?.scopes ?? []
    if (!scopes.includes('admin') && !accepted.some((s) => scopes.includes(s))) {
      throw new ApiError(
        'FORBIDDEN',
        `token "${principal?.name ?? 'none'}" lacks the scope for this request`,
        `needs one of: ${accepted.join(', ')}`,
      )
    }
    return next()
  }
}
