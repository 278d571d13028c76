import type { ActionRecord, OpRecord, OpsJournal } from '../../ops/index.js'
import type { RedisKeys } from '../redis-keys.js'
import { type RedisClient, withRedis } from '../registry/agent-registry.js'

const KEEP_S = 7 * 24 * 3600

/** Operation records in Redis: readable from any daemon, and after a restart. */
export class RedisOpsJournal implements OpsJournal {
  constructor(private readonly redis: RedisClient, private readonly keys: RedisKeys) {}

  async save(rec: OpRecord): Promise<void> {
    const running = this.keys.opsRunning(rec.node)
    await withRedis(() => {
      const tx = this.redis.multi().set(this.keys.op(rec.op_id), JSON.stringify(rec), 'EX', KEEP_S)
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

  async recordAction(opId: string, rec: ActionRecord): Promise<void> {
    const key = this.keys.opActions(opId)
    await withRedis(() => this.redis.multi().rpush(key, JSON.stringify(rec)).ltrim(key, -1000, -1).expire(key, KEEP_S).exec())
  }

  async interruptLeftovers(node: string): Promise<OpRecord[]> {
    const ids = await withRedis(() => this.redis.smembers(this.keys.opsRunning(node)))
    const interrupted: OpRecord[] = []
    for (const id of ids) {
      const rec = await this.get(id)
      if (rec !== null) {
        rec.state = 'interrupted'
        rec.finished_at = new Date().toISOString()
        rec.events.push({ at: rec.finished_at, node, step: 'interrupted', detail: `${node}'s daemon stopped before the operation finished` })
        await this.save(rec)
        interrupted.push(rec)
      } else {
        await withRedis(() => this.redis.srem(this.keys.opsRunning(node), id))
      }
    }
    return interrupted
  }
}
