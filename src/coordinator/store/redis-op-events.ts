import type { Logger } from 'pino'
import type { OpEventLog } from '../../ops/index.js'
import type { RedisKeys } from './redis-keys.js'
import { type RedisClient, withRedis } from './redis-client.js'
import { nowOrWhenRegistryAnswers } from './registry-retry.js'

const KEEP_S = 7 * 24 * 3600
/** Entries kept per operation (a coordinate over many nodes writes a few per node). */
const MAX_EVENTS = 5000

/** One entry of an operation's event stream; the id is the SSE event id. */
export interface OpStreamEvent {
  id: string
  type: 'progress' | 'done'
  data: unknown
}

export interface RedisOpEventsInit {
  redis: RedisClient
  /** A connection of its own for the subscription (a subscribed connection runs no other command). */
  subscriber: RedisClient
  keys: RedisKeys
  log: Logger
}

/**
 * Operation progress in Redis, so any daemon can serve an operation's
 * events: a stream per operation (ids for Last-Event-ID), and a channel that
 * says which operation's stream grew, so followers read at once instead of
 * polling.
 */
export class RedisOpEvents implements OpEventLog {
  private readonly watchers = new Map<string, Set<() => void>>()
  private started = false
  /** Ends the background subscribing when the log stops. */
  private retry: AbortController | null = null
  private readonly onMessage = (channel: string, opId: string): void => {
    if (channel !== this.init.keys.opEventsChannel) return
    for (const w of this.watchers.get(opId) ?? []) w()
  }

  constructor(private readonly init: RedisOpEventsInit) {}

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const { subscriber, log } = this.init
    subscriber.on('error', (err: Error) => log.debug({ err: err.message }, 'operation events subscription: connection error'))
    subscriber.on('message', this.onMessage)
    // After a reconnect, entries may have been added meanwhile: every follower reads again.
    subscriber.on('ready', () => this.wakeAll())
    await this.subscribe()
  }

  /**
   * Subscribes now if Redis answers, else in the background: the daemon runs without it (a
   * follower reads the stream when it starts), and every follower reads again once subscribed.
   */
  private async subscribe(): Promise<void> {
    const retry = new AbortController()
    this.retry = retry
    await nowOrWhenRegistryAnswers(() => this.trySubscribe(), {
      step: 'subscribing to operation events',
      meanwhile: 'followers of an operation on this daemon hear of new events only when they reconnect',
      log: this.init.log,
      signal: retry.signal,
      forMs: Infinity,
      onLater: () => this.wakeAll(),
    })
  }

  private async trySubscribe(): Promise<void> {
    const { subscriber } = this.init
    if (subscriber.status === 'wait' || subscriber.status === 'end') await subscriber.connect()
    await subscriber.subscribe(this.init.keys.opEventsChannel)
  }

  private wakeAll(): void {
    for (const set of this.watchers.values()) for (const w of set) w()
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.retry?.abort()
    this.retry = null
    this.init.subscriber.off('message', this.onMessage)
    await this.init.subscriber.unsubscribe(this.init.keys.opEventsChannel).catch(() => {})
    this.init.subscriber.disconnect()
  }

  /** Appends an entry and tells every daemon. */
  async append(opId: string, type: OpStreamEvent['type'], data: unknown): Promise<void> {
    const key = this.init.keys.opEvents(opId)
    await withRedis(() => this.init.redis.multi()
      .xadd(key, 'MAXLEN', '~', String(MAX_EVENTS), '*', 'type', type, 'data', JSON.stringify(data ?? null))
      .expire(key, KEEP_S)
      .publish(this.init.keys.opEventsChannel, opId)
      .exec())
  }

  /** Entries after the given id (all with null), oldest first. */
  async read(opId: string, after: string | null, count = 500): Promise<OpStreamEvent[]> {
    const start = after === null ? '-' : `(${after}`
    const rows = await withRedis(() => this.init.redis.xrange(this.init.keys.opEvents(opId), start, '+', 'COUNT', count))
    return rows.map(([id, fields]) => entry(id, fields))
  }

  /** The newest entry, or null. */
  async last(opId: string): Promise<OpStreamEvent | null> {
    const rows = await withRedis(() => this.init.redis.xrevrange(this.init.keys.opEvents(opId), '+', '-', 'COUNT', 1))
    const row = rows[0]
    return row === undefined ? null : entry(row[0], row[1])
  }

  /** Calls fn whenever the operation's stream grows (on any daemon); returns the unwatch function. */
  watch(opId: string, fn: () => void): () => void {
    let set = this.watchers.get(opId)
    if (set === undefined) {
      set = new Set()
      this.watchers.set(opId, set)
    }
    set.add(fn)
    return () => {
      set.delete(fn)
      if (set.size === 0 && this.watchers.get(opId) === set) this.watchers.delete(opId)
    }
  }
}

function entry(id: string, fields: string[]): OpStreamEvent {
  const map: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!
  return { id, type: map.type === 'done' ? 'done' : 'progress', data: JSON.parse(map.data ?? 'null') as unknown }
}
