import type Router from '@koa/router'
import { z } from 'zod'
import { ActionRefusedError, OpsBusyError, type OpsEngine, opRequestSchema, UnknownTargetError } from '../../../ops/index.js'
import { ApiError, ValidationError } from '../../errors.js'
import { requireScope } from '../auth.js'
import { readJson, validate } from '../body.js'

/** What the ops routes need. */
export interface OpsRouteDeps {
  engine: OpsEngine
  bodyLimitBytes: number
  maxTimeoutMs: number
  /** Operations this build runs (others answer 501). */
  available: readonly string[]
}

const operateScope = requireScope('operate')
const readScope = requireScope('read', 'agent', 'operate')
const opId = z.uuid('expected an operation id (UUID)')
/** POST /ops's query: wait=0 answers 202 at once with the operation id. */
export const opsQuery = z.strictObject({ wait: z.enum(['0', '1']).default('1') })

/** POST /ops (seed 000's input → its report), GET /ops/:id, GET /ops/:id/events (SSE). */
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
      ctx.status = 202
      ctx.body = { status: 'success', op_id: started.id, events: `/ops/${started.id}/events` }
      return
    }
    const rec = await started.done
    if (rec.report === null) throw new ApiError(503, 'OPERATION_ABORTED', `operation ${rec.op_id} was stopped before it could report`, 'the daemon is stopping; retry on another node')
    ctx.body = { op_id: rec.op_id, ...rec.report }
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
    ctx.respond = false
    const res = ctx.res
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'connection': 'keep-alive' })
    for (const e of rec.events) res.write(`event: progress\ndata: ${JSON.stringify(e)}\n\n`)
    const finish = (): void => {
      void deps.engine.get(id).then((final) => {
        res.write(`event: done\ndata: ${JSON.stringify(final?.report ?? null)}\n\n`)
        res.end()
      })
    }
    if (rec.state === 'done' || rec.state === 'interrupted') return finish()
    const unsubscribe = deps.engine.subscribe(id, (e) => {
      if (e === null) {
        unsubscribe()
        finish()
      } else res.write(`event: progress\ndata: ${JSON.stringify(e)}\n\n`)
    })
    ctx.req.on('close', unsubscribe)
  })
}
