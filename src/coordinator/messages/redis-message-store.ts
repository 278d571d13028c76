import type {
  InboundMessage,
  MessageStore,
  OutgoingMessage,
  OutgoingRecord,
  Receipt,
} from '../../p2p/index.js'
import type { RedisKeys } from '../redis-keys.js'
import type { RedisClient } from '../registry/agent-registry.js'
import { withRedis } from '../registry/agent-registry.js'
import { acceptInbound, saveOutgoing, setReceipt } from './scripts.js'

type Scripted = RedisClient & {
  aitbcSaveOutgoing(...args: string[]): Promise<number>
  aitbcSetReceipt(...args: string[]): Promise<number>
  aitbcAcceptInbound(...args: string[]): Promise<number>
}

export interface RedisMessageStoreInit {
  redis: RedisClient
  keys: RedisKeys
  /** The node whose outbox and inbox this store holds. */
  node: string
  /** How long a finished message and an inbox entry are kept (default 7 days; must exceed the largest ttl). */
  retentionMs?: number
}

/**
 * Messages in Redis: the sender's outbox survives its restart, and the
 * receiver's inbox de-duplicates by message id for the whole retention time.
 */
export class RedisMessageStore implements MessageStore {
  private readonly redis: Scripted
  private readonly retentionMs: number

  constructor(private readonly init: RedisMessageStoreInit) {
    const { redis } = init
    if (!('aitbcSaveOutgoing' in redis)) redis.defineCommand('aitbcSaveOutgoing', { lua: saveOutgoing, numberOfKeys: 2 })
    if (!('aitbcSetReceipt' in redis)) redis.defineCommand('aitbcSetReceipt', { lua: setReceipt, numberOfKeys: 2 })
    if (!('aitbcAcceptInbound' in redis)) redis.defineCommand('aitbcAcceptInbound', { lua: acceptInbound, numberOfKeys: 2 })
    this.redis = redis as Scripted
    this.retentionMs = init.retentionMs ?? 7 * 24 * 3600_000
  }

  async saveOutgoing(msg: OutgoingMessage): Promise<void> {
    const { keys, node } = this.init
    const key = keys.message(msg.id)
    const queued: Receipt = { state: 'queued', attempts: 0, updated_at: msg.created_at, reason: null }
    const fields: string[] = ['meta', JSON.stringify(msg), 'open', String(msg.targets.length)]
    for (const t of msg.targets) fields.push(`r:${t}`, JSON.stringify(queued))
    const keepMs = String(msg.expires_at - Date.now() + this.retentionMs)
    const pendingId = msg.targets.length > 0 ? msg.id : ''
    await withRedis(() => this.redis.aitbcSaveOutgoing(key, keys.outbox(node), pendingId, keepMs, ...fields))
  }

  async setReceipt(id: string, target: string, receipt: Receipt): Promise<void> {
    const { keys, node } = this.init
    const final = receipt.state === 'queued' ? '0' : '1'
    await withRedis(() =>
      this.redis.aitbcSetReceipt(
        keys.message(id), keys.outbox(node), target, JSON.stringify(receipt), final, id, String(this.retentionMs),
      ))
  }

  async getOutgoing(id: string): Promise<OutgoingRecord | null> {
    const hash = await withRedis(() => this.redis.hgetall(this.init.keys.message(id)))
    return recordOf(hash)
  }

  async pendingOutgoing(): Promise<OutgoingRecord[]> {
    const { keys, node } = this.init
    const ids = await withRedis(() => this.redis.smembers(keys.outbox(node)))
    const records: OutgoingRecord[] = []
    const gone: string[] = []
    for (const id of ids) {
      const rec = await this.getOutgoing(id)
      if (rec === null) gone.push(id)
      else records.push(rec)
    }
    if (gone.length > 0) await withRedis(() => this.redis.srem(keys.outbox(node), ...gone))
    return records
  }

  async acceptInbound(msg: InboundMessage): Promise<'delivered' | 'duplicate'> {
    const { keys } = this.init
    const stored = await withRedis(() =>
      this.redis.aitbcAcceptInbound(
        keys.inbox(msg.to),
        keys.inboxData(msg.to),
        msg.id,
        JSON.stringify(msg),
        String(msg.received_at),
        String(msg.received_at - this.retentionMs),
      ))
    return stored === 1 ? 'delivered' : 'duplicate'
  }

  async inbox(limit: number): Promise<InboundMessage[]> {
    const { keys, node } = this.init
    const ids = await withRedis(() => this.redis.zrevrange(keys.inbox(node), 0, limit - 1))
    if (ids.length === 0) return []
    const rows = await withRedis(() => this.redis.hmget(keys.inboxData(node), ...ids))
    return rows.flatMap((r) => (r === null ? [] : [JSON.parse(r) as InboundMessage]))
  }
}

function recordOf(hash: Record<string, string>): OutgoingRecord | null {
  if (hash.meta === undefined) return null
  const msg = JSON.parse(hash.meta) as OutgoingMessage
  const receipts: Record<string, Receipt> = {}
  for (const t of msg.targets) {
    const raw = hash[`r:${t}`]
    if (raw !== undefined) receipts[t] = JSON.parse(raw) as Receipt
  }
  return { ...msg, receipts }
}
