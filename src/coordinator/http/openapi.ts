import { z } from 'zod'
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from 'zod-openapi'
import { ERROR_CODES, ERRORS, type ErrorCode } from '../errors.js'
import type { RouteSpec } from './route-table.js'
import { errorAnswer } from './routes/answers.js'
import { type RouteLimits, routeTable } from './routes/index.js'

/** The limits the OpenAPI document states. */
export interface OpenApiLimits extends RouteLimits {
  version: string
}

/** What every route may answer: the browser guard, a bug, a daemon that is stopping (app.ts). */
const EVERY_ROUTE: ErrorCode[] = ['FOREIGN_ORIGIN', 'HOST_NOT_ALLOWED', 'UNSUPPORTED_MEDIA_TYPE', 'INTERNAL', 'SHUTTING_DOWN']
/** What a route behind a token may answer (auth.ts). */
const WITH_TOKEN: ErrorCode[] = ['UNAUTHENTICATED', 'INVALID_TOKEN', 'FORBIDDEN']
/**
 * What a route behind a token may answer when the shared Redis does not: every
 * such handler reads or writes it (store/redis-client.ts withRedis), and a
 * caller retries against another daemon.
 */
const WITH_REDIS: ErrorCode[] = ['REDIS_UNAVAILABLE']
/** What reading a JSON body may answer (body.ts). */
const WITH_BODY: ErrorCode[] = ['INVALID_JSON', 'JSON_TOO_DEEP', 'FORBIDDEN_KEY', 'BODY_UNREADABLE', 'BODY_TOO_LARGE', 'UNSUPPORTED_ENCODING']

/** Every code a route can answer, the shared ones included. */
export function routeErrors(r: RouteSpec): ErrorCode[] {
  const validated = r.body !== undefined || r.query !== undefined || r.params !== undefined
  const codes = new Set<ErrorCode>([
    ...EVERY_ROUTE,
    ...(r.scopes === null ? [] : [...WITH_TOKEN, ...WITH_REDIS]),
    ...(r.body === undefined ? [] : WITH_BODY),
    ...(validated ? ['VALIDATION_FAILED' as const] : []),
    ...r.errors,
  ])
  return ERROR_CODES.filter((c) => codes.has(c))
}

function responsesOf(r: RouteSpec): ZodOpenApiResponsesObject {
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of routeErrors(r)) byStatus.set(ERRORS[code].status, [...(byStatus.get(ERRORS[code].status) ?? []), code])
  const out: Record<string, ZodOpenApiResponsesObject[keyof ZodOpenApiResponsesObject]> = {}
  for (const [status, a] of Object.entries(r.ok)) {
    const codes = byStatus.get(Number(status))
    const schema = a.schema !== undefined && codes !== undefined ? z.union([a.schema, errorAnswer(codes)]) : a.schema
    const description = codes === undefined ? a.description : `${a.description}; or ${codes.join(', ')}`
    out[status] = a.text !== undefined
      ? { description, content: { [a.text]: { schema: z.string() } } }
      : schema === undefined ? { description } : { description, content: { 'application/json': { schema } } }
  }
  for (const [status, codes] of byStatus) {
    if (out[String(status)] !== undefined) continue
    out[String(status)] = {
      description: codes.map((c) => `${c}: ${ERRORS[c].why}`).join('; '),
      content: { 'application/json': { schema: errorAnswer(codes) } },
    }
  }
  return out as ZodOpenApiResponsesObject
}

function operationId(r: RouteSpec): string {
  const words = r.path.replaceAll(/[{}]/g, '').split(/[/-]/).map((p) => (p === '' ? '' : p[0]!.toUpperCase() + p.slice(1)))
  return `${r.method}${words.join('').replaceAll('.', '')}`
}

function operationOf(r: RouteSpec): ZodOpenApiOperationObject {
  const requestParams = r.params === undefined && r.query === undefined ? undefined : {
    ...(r.params === undefined ? {} : { path: r.params }),
    ...(r.query === undefined ? {} : { query: r.query }),
  }
  return {
    tags: [r.tag],
    summary: r.summary,
    operationId: operationId(r),
    // Any one scope is enough, and admin holds them all: alternatives, not one requirement naming every scope.
    ...(r.scopes === null
      ? { security: [] }
      : { 'security': [...new Set([...r.scopes, 'admin'])].map((s) => ({ bearer: [s] })), 'x-scopes': r.scopes }),
    ...(requestParams === undefined ? {} : { requestParams }),
    ...(r.body === undefined ? {} : {
      requestBody: { required: true, content: { 'application/json': { schema: r.body, ...(r.example === undefined ? {} : { example: r.example }) } } },
    }),
    responses: responsesOf(r),
  }
}

/** The OpenAPI 3.1 document of the whole API, made from the route table by zod-openapi. */
export function buildOpenApi(l: OpenApiLimits): Record<string, unknown> {
  const paths: ZodOpenApiPathsObject = {}
  for (const r of routeTable(l)) paths[r.path] = { ...paths[r.path], [r.method]: operationOf(r) }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'aitbc-node coordinator API',
      version: l.version,
      description: 'Every path is also served under /v1. Errors share one body: {status: "error", code, message, detail}; '
        + 'the Error schema lists every code. A wrong method on a known path answers 405 HTTP_405; an unknown path 404 NOT_FOUND. '
        + 'Scopes: read, agent, operate, admin (admin may do everything).',
    },
    servers: [{ url: '/' }, { url: '/v1' }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http', scheme: 'bearer',
          description: 'A token from auth.tokens (AITBC_API_TOKEN). Once any token exists every request needs one, loopback included; only a daemon with no token at all on a loopback listener (or auth.anonymous: true) takes anonymous requests, and says so in a warning at start. Browser pages are refused whatever the token: a foreign Origin or Sec-Fetch-Site (403 FOREIGN_ORIGIN), a Host that does not name the daemon (421 HOST_NOT_ALLOWED), a body not typed application/json (415 UNSUPPORTED_MEDIA_TYPE)',
        },
      },
      schemas: { Error: errorAnswer().meta({ description: 'every error answer' }) },
    },
    paths,
  }) as unknown as Record<string, unknown>
}
