import { createSession } from 'better-sse'
import { z } from 'zod'
import type { OpRecord } from '../../../ops/index.js'
import { validate } from '../body.js'
import type { RouteContext } from '../route-table.js'
import type { RedisOpEvents } from '../../store/redis-op-events.js'

/** An event id as this API writes them: a Redis stream id, or journal-N for an operation journalled without a stream. */
const eventId = z.string().regex(/^(\d{1,16}-\d{1,10}|journal-\d{1,6})$/, 'expected an event id from this stream')

/**
 * GET /ops/:id/events: the operation's progress as server-sent events from its
 * Redis stream, resumed after Last-Event-ID, ending with the done event.
 */
export async function serveOpEvents(ctx: RouteContext, events: Pick<RedisOpEvents, 'read' | 'last' | 'watch'>, id: string, rec: OpRecord): Promise<void> {
  const header = ctx.get('last-event-id')
  const resumeFrom = header === '' ? null : validate(eventId, header, 'Last-Event-ID')
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
    // A record without an event stream (journalled by an older daemon) holds its events itself.
    const from = resumeFrom?.startsWith('journal-') === true ? Number(resumeFrom.slice(8)) + 1 : 0
    rec.events.forEach((e, i) => {
      if (i >= from) session.push(e, 'progress', `journal-${i}`)
    })
    session.push(rec.report, 'done', finalId)
    return end()
  }
  pump()
}
