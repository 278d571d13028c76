import { z } from 'zod'
import { type InboundMessage, messageBodyBytes, type OutgoingRecord, type SendRequest } from '../../../p2p/index.js'
import { ApiError, ValidationError } from '../../errors.js'
import { jsonValue } from '../../json-value.js'
import { readJson, validate } from '../body.js'
import type { Route } from '../route-table.js'
import { object, success } from './answers.js'

/** What the message routes need from the mesh. */
export interface MessageRouteDeps {
  send(req: SendRequest): Promise<OutgoingRecord>
  get(id: string): Promise<OutgoingRecord | null>
  inbox(limit: number): Promise<InboundMessage[]>
  /** Names a message can go to ("all" excluded), for the error when `to` is unknown. */
  targets(): string[]
  selfName: string
  bodyLimitBytes: number
  defaultTtlMs: number
  maxTtlMs: number
  maxMessageBytes: number
  /** Takes one send from the caller's allowance (messages.rate): 0 when admitted, else ms until one would be. */
  admit(caller: string): number
  /** Called when a send is refused by a bound (metrics). */
  onRefused?(reason: 'api_rate_limited' | 'api_too_large'): void
}

/** POST /messages's body, with the daemon's ttl limit. */
export function sendMessageBody(maxTtlMs: number) {
  return z.strictObject({
    to: z.string().min(1, 'expected a node name or "all"').max(63),
    body: z.union([z.string(), z.record(z.string(), jsonValue), z.array(jsonValue)], 'expected a string, object or list'),
    ttl_ms: z.number().int().min(100, 'expected at least 100 ms').max(maxTtlMs, `expected at most ${maxTtlMs} ms`).optional(),
    wait_ms: z.number().int().min(0).max(30_000, 'expected at most 30000 ms').default(2000)
      .describe('How long the answer waits for the first delivery attempts (ms); never longer than ttl_ms.'),
  })
}

/** GET /messages/inbox's query. */
export const inboxQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) })

const read = ['read', 'agent', 'operate'] as const
const messageId = z.uuid('expected a message id (UUID)')
const receipt = z.looseObject({
  state: z.enum(['queued', 'delivered', 'duplicate', 'rejected', 'expired']),
  attempts: z.number(),
  reason: z.string().nullable(),
})
const messageRecord = z.looseObject({
  status: success,
  message_id: z.string(),
  from: z.string(),
  to: z.string(),
  targets: z.array(z.string()),
  receipts: z.record(z.string(), receipt),
  message_delivery: z.looseObject({ sent: z.number(), delivered: z.number(), failed: z.number() }),
})
const tag = 'messages'

/** POST /messages, GET /messages/inbox, GET /messages/:id. */
export function messageRoutes(limits: { maxTtlMs: number }): Route<MessageRouteDeps>[] {
  const sendBody = sendMessageBody(limits.maxTtlMs)
  return [
    {
      method: 'post', path: '/messages', tag, summary: 'Send a message with receipts', scopes: ['operate'], body: sendBody,
      errors: ['MESSAGE_TOO_LARGE', 'RATE_LIMITED', 'OUTBOX_FULL'],
      ok: { 202: { description: 'stored; receipts so far', schema: messageRecord } }, example: { to: 'all', body: 'hello cluster' },
      handle: async (ctx, deps) => {
        const caller = (ctx.state.principal as { name?: string } | undefined)?.name ?? 'anonymous'
        const waitMs = deps.admit(caller)
        if (waitMs > 0) {
          deps.onRefused?.('api_rate_limited')
          ctx.set('Retry-After', String(Math.ceil(waitMs / 1000)))
          throw new ApiError('RATE_LIMITED', `${caller} sends messages faster than messages.rate allows`, `retry after ${waitMs} ms`)
        }
        const input = validate(sendBody, await readJson(ctx, deps.bodyLimitBytes))
        // The receiver measures the same way and rejects a larger body, so the two bounds agree.
        if (messageBodyBytes(input.body) > deps.maxMessageBytes) {
          deps.onRefused?.('api_too_large')
          throw new ApiError('MESSAGE_TOO_LARGE', `body: message larger than ${deps.maxMessageBytes} bytes`, 'send less data (messages.maxBodyBytes)')
        }
        const known = deps.targets()
        if (input.to === deps.selfName) {
          throw new ValidationError(`invalid body: to: ${input.to} is this node`, `send to one of: all, ${known.join(', ')}`)
        }
        if (input.to !== 'all' && !known.includes(input.to)) {
          throw new ValidationError(`invalid body: to: unknown node "${input.to}"`, `valid targets: all, ${known.join(', ')}`)
        }
        const ttlMs = input.ttl_ms ?? deps.defaultTtlMs
        const rec = await deps.send({ to: input.to, body: input.body, ttlMs, waitMs: Math.min(input.wait_ms, ttlMs) })
        ctx.status = 202
        ctx.body = { status: 'success', ...present(rec) }
      },
    },
    {
      method: 'get', path: '/messages/inbox', tag, summary: 'Messages this node received', scopes: read, query: inboxQuery, errors: [],
      ok: { 200: { description: 'newest first', schema: z.looseObject({ status: success, node: z.string(), messages: z.array(object), count: z.number() }) } },
      handle: async (ctx, deps) => {
        const { limit } = validate(inboxQuery, { ...ctx.query }, 'query')
        const messages = await deps.inbox(limit)
        ctx.body = { status: 'success', node: deps.selfName, messages, count: messages.length }
      },
    },
    {
      method: 'get', path: '/messages/{id}', tag, summary: 'A sent message and its receipts', scopes: read, params: z.strictObject({ id: messageId }),
      errors: ['MESSAGE_NOT_FOUND'], ok: { 200: { description: 'the message', schema: messageRecord } },
      handle: async (ctx, deps) => {
        const id = validate(messageId, ctx.params.id, 'message_id')
        const rec = await deps.get(id)
        if (rec === null) {
          throw new ApiError('MESSAGE_NOT_FOUND', `message ${id} is not known here`, 'ask the node that sent it; finished messages are kept 7 days, fewer when messages.outbox fills')
        }
        ctx.body = { status: 'success', ...present(rec) }
      },
    },
  ]
}

/** A sent message with its receipts and seed 000's message_delivery counts. */
function present(rec: OutgoingRecord) {
  const states = Object.values(rec.receipts).map((r) => r.state)
  const delivered = states.filter((s) => s === 'delivered' || s === 'duplicate').length
  const failed = states.filter((s) => s === 'rejected' || s === 'expired').length
  return {
    message_id: rec.id,
    from: rec.from,
    to: rec.to,
    targets: rec.targets,
    created_at: new Date(rec.created_at).toISOString(),
    expires_at: new Date(rec.expires_at).toISOString(),
    receipts: rec.receipts,
    message_delivery: { sent: rec.targets.length, delivered, failed, queued: rec.targets.length - delivered - failed },
  }
}
