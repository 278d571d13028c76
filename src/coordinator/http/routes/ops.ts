import type Router from '@koa/router'
import { z } from 'zod'
import { ActionRefusedError, OpsBusyError, type OpsEngine, opIdSchema, opRequestSchema, UnknownTargetError } from '../../../ops/index.js'
import { createSession } from 'better-sse'
import { ApiError, ValidationError } from '../../errors.js'
import type { OpRecord } from '../../../ops/index.js'
import type { RedisOpEvents } from '../../store/redis-op-events.js'
import { requireScope } from '../auth.js'
import { readJson, validate } from '../body.js'

/** What the ops routes need. */
export interface OpsRouteDeps {
  engine: OpsEngine
  /** Every operation's event stream in Redis, whichever daemon runs it. */
  events: Pick<RedisOpEvents, 'read' | 'last' | 'watch'>
  /** The journal's index: the newest operations of the cluster first. */
  journal: { list(opts: { limit: number, before?: number }): Promise<OpRecord[]> }
  bodyLimitBytes: number
  maxTimeoutMs: number
  /** Operations this build runs (others answer 501). */
  available: readonly string[]
}

const operateScope = requireScope('operate')
const readScope = requireScope('read', 'agent', 'operate')
const opId = opIdSchema
/** An event id as this API writes them: a Redis stream id, or journal-N for an operation journalled without a stream. */
const eventId = z.string().regex(/^(\d{1,16}-\d{1,10}|journal-\d{1,6})$/, 'expected an event id from this stream')
/** POST /ops's query: wait=0 answers 202 at once with the operation id. */
export const opsQuery = z.strictObject({ wait: z.enum(['0', '1']).default('1') })
/** GET /ops's query: a page of the journal, newest first; `before` is a created_ms from the previous page. */
export const journalQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.coerce.number().int().min(0).optional(),
})

/** One line of the journal: what was asked, where it ran, how it ended. */
export function journalLine(rec: OpRecord) {
  const r = rec.request
  return {
    op_id: rec.op_id,
    operation: r.operation,
    target_node: r.target_node,
    ...(r.sync_type === undefined ? {} : { sync_type: r.sync_type }),
    ...(r.action === undefined ? {} : { action: r.action }),
    force: r.force,
    node: rec.node,
    state: rec.state,
    created_at: rec.created_at,
    created_ms: Date.parse(rec.created_at),
    finished_at: rec.finished_at,
    validation_status: rec.report?.validation_status ?? null,
    summary: rec.report?.summary ?? null,
    issues: rec.report?.issues.length ?? null,
  }
}

/** POST /ops (seed 000's input → its report), GET /ops (the journal), GET /ops/:id, GET /ops/:id/events (SSE). */
export function opsRoutes(router: Router, deps: OpsRouteDeps): void {
  const schema = opRequestSchema(deps.maxTimeoutMs / 1000)

  router.post('/ops', operateScope, async (ctx) => {
    const req = validate(schema, await readJson(ctx, deps.bodyLimitBytes))
    if (!deps.available.includes(req.operation)) {
      throw new ApiError(501, 'OPERATION_NOT_AVAILABLE', `operation ${req.operation} is not available in this version`, `available: ${deps.available.join(', ')}`)
    }
    if (req.operation === 'message' && (req.message ?? '') === '') {
      throw new ValidationError('invalid body: message: required for the message operation')
    }
    let started
    try {
      started = deps.engine.submit(req)
    } catch (err) {
      if (err instanceof OpsBusyError) throw new ApiError(429, 'OPS_BUSY', err.message, 'retry in a few seconds')
      if (err instanceof ActionRefusedError) throw new ValidationError(`invalid body: ${err.message}`)
      if (err instanceof UnknownTargetError) {
        // The message already lists the valid targets; the detail says what to do instead of repeating them.
        throw new ValidationError(`invalid body: ${err.message}`, 'see aitbc-node nodes for the names of the cluster')
      }
      throw err
    }
    const { wait } = validate(opsQuery, { ...ctx.query }, 'query')
    if (wait === '0') {
      // In the journal before the answer: the id works at once on every daemon (GET /ops/:id, its events).
      await started.journalled
      ctx.status = 202
      ctx.body = { status: 'success', op_id: started.id, events: `/ops/${started.id}/events` }
      return
    }
    const rec = await started.done
    if (rec.report === null) throw new ApiError(503, 'OPERATION_ABORTED', `operation ${rec.op_id} was stopped before it could report`, 'the daemon is stopping; retry on another node')
    ctx.body = { op_id: rec.op_id, ...rec.report }
  })

  router.get('/ops', readScope, async (ctx) => {
    const { limit, before } = validate(journalQuery, { ...ctx.query }, 'query')
    const operations = (await deps.journal.list({ limit, before })).map(journalLine)
    const last = operations.at(-1)
    ctx.body = {
      status: 'success',
      operations,
      count: operations.length,
      next_before: operations.length === limit && last !== undefined ? last.created_ms : null,
    }
  })

  router.get('/ops/:id', readScope, async (ctx) => {
    const id = validate(opId, ctx.params.id, 'op_id')
    const rec = await deps.engine.get(id)
    if (rec === null) throw new ApiError(404, 'OPERATION_NOT_FOUND', `operation ${id} is not known`, 'operations are kept 7 days')
    ctx.body = { status: 'success', operation: rec }
  })

  router.get('/ops/:id/events', readScope, async (ctx) => {
    const id = validate(opId, ctx.params.id, 'op_id')
    const rec = await deps.engine.get(id)
    if (rec === null) throw new ApiError(404, 'OPERATION_NOT_FOUND', `operation ${id} is not known`)
    const header = ctx.get('last-event-id')
    const resumeFrom = header === '' ? null : validate(eventId, header, 'Last-Event-ID')
    const { events } = deps
    // A client that already has the final event is told there is no more: 204 stops an EventSource's reconnecting.
    const newest = await events.last(id)
    const legacy = newest === null && (rec.state === 'done' || rec.state === 'interrupted')
    const finalId = legacy ? `journal-${rec.events.length}` : newest?.id
    if (resumeFrom !== null && finalId === resumeFrom) {
      ctx.status = 204
      return
    }
    // Koa's default status until a body is set is 404; the session writes the head with ours.
    ctx.status = 200
    ctx.respond = false
    const session = await createSession(ctx.req, ctx.res, { retry: 2000, keepAlive: 15_000, trustClientEventId: false })
    let cursor = resumeFrom
    let reading: Promise<void> | null = null
    let again = false
    let ended = false
    const end = (): void => {
      if (ended) return
      ended = true
      unwatch()
      ctx.res.end()
    }
    // Reads what is new since the cursor; a wake-up during a read makes it read once more.
    const pump = (): void => {
      if (ended) return
      if (reading !== null) {
        again = true
        return
      }
      reading = (async () => {
        do {
          again = false
          const batch = await events.read(id, cursor)
          for (const e of batch) {
            session.push(e.data, e.type, e.id)
            cursor = e.id
            if (e.type === 'done') return end()
          }
          if (batch.length > 0) again = true
        } while (again && !ended)
      })()
        .catch(() => end())
        .finally(() => {
          reading = null
        })
    }
    const unwatch = events.watch(id, pump)
    ctx.req.on('close', end)
    if (legacy) {
      // Journalled before operations had event streams: its record holds the events.
      const from = resumeFrom?.startsWith('journal-') === true ? Number(resumeFrom.slice(8)) + 1 : 0
      rec.events.forEach((e, i) => {
        if (i >= from) session.push(e, 'progress', `journal-${i}`)
      })
      session.push(rec.report, 'done', finalId)
      return end()
    }
    pump()
  })
}
