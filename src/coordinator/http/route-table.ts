import type Router from '@koa/router'
import type { Context } from 'koa'
import type { z } from 'zod'
import type { ErrorCode } from '../errors.js'
import { requireScope, type Scope } from './auth.js'

/** One answer of a route besides its errors: a JSON schema, a text type, or nothing (204). */
export interface Answer {
  description: string
  schema?: z.ZodType
  /** A content type answered as text (metrics, server-sent events). */
  text?: string
}

/**
 * A route, declared once: the router mounts it and the OpenAPI document
 * describes it from these fields. The schemas are the ones the handler
 * validates with.
 */
export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'delete'
  /** OpenAPI form: /agents/{id}. */
  path: string
  tag: string
  summary: string
  /** Scopes any one of which is enough (admin holds them all); null: served without a token. */
  scopes: readonly Scope[] | null
  params?: z.ZodObject
  query?: z.ZodObject
  body?: z.ZodType
  example?: unknown
  /** Answers that are not errors, by status. */
  ok: Record<number, Answer>
  /** Codes this route answers besides the ones every route shares (openapi.ts adds those). */
  errors: readonly ErrorCode[]
}

/** A request as a handler sees it: Koa's context with the path's parameters. */
export type RouteContext = Context & { params: Record<string, string | undefined> }

/** A declared route with its handler, which gets the deps of its module. */
export interface Route<D> extends RouteSpec {
  handle(ctx: RouteContext, deps: D): Promise<void> | void
}

/** Koa's path form of an OpenAPI path: /agents/{id} -> /agents/:id. */
export function koaPath(path: string): string {
  return path.replaceAll(/\{(\w+)\}/g, ':$1')
}

/** Mounts routes in their order (a static path before a templated one it would match). */
export function mount<D>(router: Router, routes: readonly Route<D>[], deps: D): void {
  for (const r of routes) {
    const handle = (ctx: Context): Promise<void> | void => r.handle(ctx as RouteContext, deps)
    if (r.scopes === null) router[r.method](koaPath(r.path), handle)
    else router[r.method](koaPath(r.path), requireScope(...r.scopes), handle)
  }
}
