import { z } from 'zod'
import { ActionRefusedError, type OpsEngine, opIdSchema, opRequestSchema, UnknownTargetError } from '../../../ops/index.js'
import type { OpRecord } from '../../../ops/index.js'
import { ApiError, ValidationError } from '../../errors.js'
import type { RedisOpEvents } from '../../store/redis-op-events.js'
import { readJson, validate } from '../body.js'
import type { Route } from '../route-table.js'
import { success, time } from './answers.js'
import { serveOpEvents } from './op-events.js'

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

const read = ['read', 'agent', 'operate'] as const
const params = z.strictObject({ id: opIdSchema })
/** POST /ops's query: wait=0 answers 202 at once with the operation id. */
export const opsQuery = z.strictObject({ wait: z.enum(['0', '1']).default('1') })
/** GET /ops's query: a page of the journal, newest first; `before` is a created_ms from the previous page. */
export const journalQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.coerce.number().int().min(0).optional(),
})

const OPERATIONS = ['status', 'health', 'sync', 'message', 'coordinate'] as const
const OP_STATES = ['queued', 'running', 'done', 'interrupted'] as const
const VALIDATION_STATUSES = ['success', 'partial', 'failed'] as const

/** One node's line in seed 000's nodes_status (GET /nodes extends it). */
export const nodeStatusLine = z.looseObject({
  status: z.enum(['online', 'offline', 'degraded']),
  block_height: z.number().nullable(),
  mempool_size: z.number().nullable(),
  p2p_connections: z.number().nullable(),
  service_uptime: z.string().nullable(),
  last_sync: z.number().nullable(),
})

/** Seed 000's report, field by field. */
export const opReport = z.looseObject({
  summary: z.string(),
  operation: z.enum(OPERATIONS),
  target_node: z.string(),
  nodes_status: z.record(z.string(), nodeStatusLine),
  sync_result: z.enum(['success', 'partial', 'failed']),
  sync_details: z.looseObject({
    blockchain_synced: z.boolean(), mempool_synced: z.boolean(), configuration_synced: z.boolean(), git_synced: z.boolean(),
    kinds: z.record(z.string(), z.looseObject({ state: z.enum(['synced', 'not_synced', 'not_configured']), config_key: z.string().nullable() }))
      .optional().describe('each requested kind; not_configured names the config key to set and is left out of sync_result'),
  }),
  message_delivery: z.looseObject({ sent: z.number(), delivered: z.number(), failed: z.number() }),
  issues: z.array(z.looseObject({ node: z.string(), step: z.string(), error: z.string(), suggestion: z.string() })),
  recommendations: z.array(z.string()),
  confidence: z.number(),
  execution_time: z.number(),
  validation_status: z.enum(VALIDATION_STATUSES),
})

const journalAnswer = z.looseObject({
  status: success,
  operations: z.array(z.looseObject({
    op_id: z.string(), operation: z.enum(OPERATIONS), target_node: z.string(), node: z.string(),
    state: z.enum(OP_STATES), created_at: time, created_ms: z.number(), finished_at: time.nullable(),
    validation_status: z.enum(VALIDATION_STATUSES).nullable(), summary: z.string().nullable(), issues: z.number().nullable(),
  })),
  count: z.number(),
  next_before: z.number().nullable().describe('pass as before= for the next page; null on the last'),
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

const tag = 'operations'

/** POST /ops (seed 000's input → its report), GET /ops (the journal), GET /ops/:id, GET /ops/:id/events (SSE). */
export function opsRoutes(limits: { maxTimeoutMs: number }): Route<OpsRouteDeps>[] {
  const schema = opRequestSchema(limits.maxTimeoutMs / 1000)
  const known = async (deps: OpsRouteDeps, raw: string | undefined, detail?: string): Promise<OpRecord> => {
    const id = validate(opIdSchema, raw, 'op_id')
    const rec = await deps.engine.get(id)
    if (rec === null) throw new ApiError('OPERATION_NOT_FOUND', `operation ${id} is not known`, detail)
    return rec
  }
  return [
    {
      method: 'post', path: '/ops', tag, summary: 'Run a seed 000 operation; answers its report (or 202 with ?wait=0)', scopes: ['operate'],
      query: opsQuery, body: schema, errors: ['OPS_BUSY', 'OPERATION_NOT_AVAILABLE', 'OPERATION_ABORTED'],
      ok: {
        200: { description: 'the seed 000 report', schema: opReport.extend({ op_id: z.string() }) },
        202: { description: 'accepted (wait=0)', schema: z.looseObject({ status: success, op_id: z.string(), events: z.string() }) },
      },
      example: { operation: 'sync', target_node: 'all', sync_type: 'git', force: true },
      handle: async (ctx, deps) => {
        const req = validate(schema, await readJson(ctx, deps.bodyLimitBytes))
        if (!deps.available.includes(req.operation)) {
          throw new ApiError('OPERATION_NOT_AVAILABLE', `operation ${req.operation} is not available in this version`, `available: ${deps.available.join(', ')}`)
        }
        if (req.operation === 'message' && (req.message ?? '') === '') {
          throw new ValidationError('invalid body: message: required for the message operation')
        }
        let started
        try {
          started = deps.engine.submit(req)
        } catch (err) {
          // OpsBusyError goes on to the error mapping (domain-errors.ts) as OPS_BUSY.
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
        if (rec.report === null) throw new ApiError('OPERATION_ABORTED', `operation ${rec.op_id} was stopped before it could report`, 'the daemon is stopping; retry on another node')
        ctx.body = { op_id: rec.op_id, ...rec.report }
      },
    },
    {
      method: 'get', path: '/ops', tag, summary: 'The journal: the cluster\'s operations, newest first', scopes: read, query: journalQuery, errors: [],
      ok: { 200: { description: 'a page of the journal', schema: journalAnswer } },
      handle: async (ctx, deps) => {
        const { limit, before } = validate(journalQuery, { ...ctx.query }, 'query')
        const operations = (await deps.journal.list({ limit, before })).map(journalLine)
        const last = operations.at(-1)
        ctx.body = {
          status: 'success',
          operations,
          count: operations.length,
          next_before: operations.length === limit && last !== undefined ? last.created_ms : null,
        }
      },
    },
    {
      method: 'get', path: '/ops/{id}', tag, summary: 'An operation\'s journal record', scopes: read, params, errors: ['OPERATION_NOT_FOUND'],
      ok: { 200: { description: 'the record', schema: z.looseObject({ status: success, operation: z.looseObject({ op_id: z.string(), node: z.string(), state: z.enum(OP_STATES) }) }) } },
      handle: async (ctx, deps) => {
        ctx.body = { status: 'success', operation: await known(deps, ctx.params.id, 'operations are kept 7 days') }
      },
    },
    {
      method: 'get', path: '/ops/{id}/events', tag, summary: 'Progress as server-sent events, then done with the report', scopes: read, params, errors: ['OPERATION_NOT_FOUND'],
      ok: { 200: { description: 'text/event-stream', text: 'text/event-stream' }, 204: { description: 'Last-Event-ID is already the final event' } },
      handle: async (ctx, deps) => {
        const rec = await known(deps, ctx.params.id)
        await serveOpEvents(ctx, deps.events, rec.op_id, rec)
      },
    },
  ]
}
