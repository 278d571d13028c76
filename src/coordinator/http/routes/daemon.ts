import { z } from 'zod'
import type { HttpMetrics } from '../metrics.js'
import type { Route } from '../route-table.js'
import { object, time } from './answers.js'

/** What the daemon's own routes need. */
export interface DaemonRouteDeps {
  metrics: HttpMetrics
  /** GET /health's answer as made by app.ts (its status and JSON text). */
  health(): { status: number, body: string }
  /** The OpenAPI document; absent: no /openapi.json. */
  document?: (() => Record<string, unknown>) | undefined
}

const healthAnswer = z.looseObject({
  status: z.enum(['healthy', 'degraded', 'unhealthy']), node: z.string(), version: z.string(), timestamp: time, checks: object, warnings: z.array(z.string()),
})
const tag = 'daemon'

/** The routes served without a token: /health and this document (the API's description is no secret). */
export function openRoutes(): Route<DaemonRouteDeps>[] {
  return [
    {
      method: 'get', path: '/health', tag, summary: 'This daemon\'s health (503 when Redis is down)', scopes: null, errors: [],
      ok: { 200: { description: 'healthy or degraded', schema: healthAnswer }, 503: { description: 'unhealthy', schema: healthAnswer } },
      handle: (ctx, deps) => {
        const answer = deps.health()
        ctx.status = answer.status
        ctx.type = 'application/json'
        ctx.body = answer.body
      },
    },
    {
      method: 'get', path: '/openapi.json', tag, summary: 'This document', scopes: null, errors: [],
      ok: { 200: { description: 'OpenAPI 3.1', schema: z.looseObject({ openapi: z.string() }) } },
      handle: (ctx, deps) => {
        ctx.body = deps.document?.()
      },
    },
  ]
}

/** The daemon's own routes that want a token. */
export function daemonRoutes(): Route<DaemonRouteDeps>[] {
  return [
    {
      method: 'get', path: '/metrics', tag, summary: 'Prometheus metrics', scopes: ['read', 'agent', 'operate'], errors: [],
      ok: { 200: { description: 'text format', text: 'text/plain' } },
      handle: async (ctx, deps) => {
        ctx.type = deps.metrics.registry.contentType
        ctx.body = await deps.metrics.registry.metrics()
      },
    },
  ]
}
