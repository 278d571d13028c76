import type { Logger } from 'pino'
import type { ActionRecord, OpRecord, OpsJournal } from '../../ops/index.js'
import type { RedisKeys } from './redis-keys.js'
import { type RedisClient, withRedis } from './redis-client.js'
import { retryWhileRegistryAway } from './registry-retry.js'

const KEEP_S = 7 * 24 * 3600
/** Entries the journal's index keeps (the records themselves expire after KEEP_S). */
export const JOURNAL_INDEX_MAX = 1000

/** Operation records in Redis: readable from any daemon, and after a restart. */
export class RedisOpsJournal implements OpsJournal {
  /** log: where a wait for Redis is logged (marking the last run's leftovers at start). */
  constructor(private readonly redis: RedisClient, private readonly keys: RedisKeys, private readonly log: Logger) {}

  async save(rec: OpRecord): Promise<void> {
    const running = this.keys.opsRunning(rec.node)
    await withRedis(() => {
      const tx = this.redis.multi().set(this.keys.op(rec.op_id), JSON.stringify(rec), 'EX', KEEP_S)
      // Indexed by creation time (NX: later saves keep it), trimmed as the records expire.
      const created = Date.parse(rec.created_at)
      tx.zadd(this.keys.opsRecent, 'NX', created, rec.op_id)
        .zremrangebyscore(this.keys.opsRecent, '-inf', Date.now() - KEEP_S * 1000)
        .zremrangebyrank(this.keys.opsRecent, 0, -JOURNAL_INDEX_MAX - 1)
      if (rec.state === 'done' || rec.state === 'interrupted') tx.srem(running, rec.op_id)
      else tx.sadd(running, rec.op_id)
      return tx.exec()
    })
  }

  async get(id: string): Promise<OpRecord | null> {
    const [raw, actions] = await withRedis(async () => {
      const res = await this.redis.multi().get(this.keys.op(id)).lrange(this.keys.opActions(id), 0, 999).exec()
      return [res?.[0]?.[1] as string | null, (res?.[1]?.[1] ?? []) as string[]] as const
    })
    if (raw === null) return null
    const rec = JSON.parse(raw) as OpRecord
    rec.actions = actions.map((a) => JSON.parse(a) as ActionRecord)
    return rec
  }

  /**
   * The newest operations first, each without its events and actions (GET /ops/:id has them);
   * `before` (ms since the epoch, exclusive) pages back.
   */
  async list(opts: { limit: number, before?: number }): Promise<OpRecord[]> {
    const max = opts.before === undefined ? '+inf' : `(${opts.before}`
    const ids = await withRedis(() => this.redis.zrevrangebyscore(this.keys.opsRecent, max, '-inf', 'LIMIT', 0, opts.limit))
    if (ids.length === 0) return []
    const raws = await withRedis(() => this.redis.mget(ids.map((id) => this.keys.op(id))))
    return raws.flatMap((raw) => {
      if (raw === null) return []
      const rec = JSON.parse(raw) as OpRecord
      return [{ ...rec, events: [] }]
    })
  }

  async recordAction(opId: string, rec: ActionRecord): Promise<void> {
    const key = this.keys.opActions(opId)
    await withRedis(() => this.redis.multi().rpush(key, JSON.stringify(rec)).ltrim(key, -1000, -1).expire(key, KEEP_S).exec())
  }

  async interruptLeftovers(node: string, opts: { signal?: AbortSignal, skip?(opId: string): boolean } = {}): Promise<OpRecord[]> {
    // Kept across attempts: a record marked before a connection error has left the running set.
    const interrupted: OpRecord[] = []
    await retryWhileRegistryAway(() => this.markInterrupted(node, interrupted, opts.skip), {
      step: 'marking the operations cut off by the last stop interrupted', log: this.log, signal: opts.signal, forMs: Infinity,
    })
    return interrupted
  }

  private async markInterrupted(node: string, into: OpRecord[], skip?: (opId: string) => boolean): Promise<void> {
    const ids = await withRedis(() => this.redis.smembers(this.keys.opsRunning(node)))
    for (const id of ids) {
      if (skip?.(id) === true) continue
      const rec = await this.get(id)
      if (rec !== null) {
        rec.state = 'interrupted'
        rec.finished_at = new Date().toISOString()
        rec.events.push({ at: rec.finished_at, node, step: 'interrupted', detail: `${node}'s daemon stopped before the operation finished` })
        await this.save(rec)
        into.push(rec)
      } else {
        await withRedis(() => this.redis.srem(this.keys.opsRunning(node), id))
      }
    }
  }
}
