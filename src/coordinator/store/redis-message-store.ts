import type { Logger } from 'pino'
import type {
  InboundMessage,
  MessageStore,
  OutgoingMessage,
  OutgoingRecord,
  Receipt,
} from '../../p2p/index.js'
import type { RedisKeys } from './redis-keys.js'
import { type RedisClient, withRedis } from './redis-client.js'
import { OutboxFullError } from '../messages/message-errors.js'
import { ScriptLibrary } from './script-loader.js'
import { retryWhileRegistryAway } from './registry-retry.js'

/** The message store's scripts, lua/messages/*.lua. */
const SCRIPTS = {
  save_outgoing: 'messages/save-outgoing',
  set_receipt: 'messages/set-receipt',
  accept_inbound: 'messages/accept-inbound',
} as const

/** How much a message box keeps (messages.inbox / messages.outbox in the config). */
export interface BoxBounds {
  maxMessages: number
  /** Bytes of the stored JSON. */
  maxBytes: number
}

/** What a box holds after a store, and how many old entries that store dropped. */
export interface BoxSize {
  messages: number
  bytes: number
  dropped: number
}

/** A message waiting to be stored with the others that arrived while a store call was out. */
interface Arrival {
  msg: InboundMessage
  resolve(result: 'delivered' | 'duplicate'): void
  reject(err: unknown): void
}

/**
 * How long a finished message and an inbox entry stay readable: a week lets
 * an operator look into last weekend's delivery after the fact, and it is
 * far above any ttl_ms the API accepts.
 */
export const DEFAULT_MESSAGE_RETENTION_MS = 7 * 24 * 3600_000

/** Messages stored per Redis call: bounds one script's run time (Redis blocks while it runs). */
export const DEFAULT_MAX_GROUP = 256

export interface RedisMessageStoreInit {
  redis: RedisClient
  keys: RedisKeys
  /** The node whose outbox and inbox this store holds. */
  node: string
  /** How long a finished message and an inbox entry are kept (default DEFAULT_MESSAGE_RETENTION_MS; above the largest ttl). */
  retentionMs?: number
  /** Most messages stored in one call (default DEFAULT_MAX_GROUP). */
  maxGroup?: number
  /** Per receiving node; past them the oldest entries are dropped. */
  inboxBounds: BoxBounds
  /** Of this node's sent messages (queued and finished); past them the oldest finished ones are forgotten, else OUTBOX_FULL. */
  outboxBounds: BoxBounds
  /** After every inbox store (metrics). */
  onInbox?(size: BoxSize): void
  /** After every outbox store, refused ones included (metrics). */
  onOutbox?(size: BoxSize & { refused: boolean }): void
  /** Where a wait for Redis is logged (resuming the outbox at start). */
  log: Logger
}

/**
 * Messages in Redis: the sender's outbox survives its restart, and the
 * receiver's inbox de-duplicates by (sender, message id) while it keeps the
 * entry. Both are bounded by count and bytes.
 */
export class RedisMessageStore implements MessageStore {
  private readonly redis: RedisClient
  private readonly scripts: ScriptLibrary<keyof typeof SCRIPTS>
  private readonly retentionMs: number
  private readonly maxGroup: number
  /** Per inbox: the messages that arrived while its store call was out, and whether one is out. */
  private readonly arrivals = new Map<string, Arrival[]>()
  private readonly storing = new Set<string>()
  /** Per inbox, the entries on their way in (waiting or being stored), with their outcome. */
  private readonly incoming = new Map<string, Map<string, Promise<'delivered' | 'duplicate'>>>()

  constructor(private readonly init: RedisMessageStoreInit) {
    const { redis } = init
    this.redis = redis
    this.scripts = new ScriptLibrary(redis, { name: 'aitbc_messages', scripts: SCRIPTS })
    this.retentionMs = init.retentionMs ?? DEFAULT_MESSAGE_RETENTION_MS
    this.maxGroup = init.maxGroup ?? DEFAULT_MAX_GROUP
  }

  async saveOutgoing(msg: OutgoingMessage): Promise<void> {
    const { keys, node } = this.init
    const key = keys.message(msg.id)
    const queued: Receipt = { state: 'queued', attempts: 0, updated_at: msg.created_at, reason: null }
    const fields: string[] = ['meta', JSON.stringify(msg), 'open', String(msg.targets.length)]
    for (const t of msg.targets) fields.push(`r:${t}`, JSON.stringify(queued))
    const keepMs = String(msg.expires_at - Date.now() + this.retentionMs)
    const bytes = fields.reduce((sum, f) => sum + Buffer.byteLength(f), 0)
    const { maxMessages, maxBytes } = this.init.outboxBounds
    const [stored, messages, kept] = await withRedis(() => this.scripts.call('save_outgoing',
      [key, keys.outbox(node), keys.sent(node), keys.sentSizes(node), keys.sentBytes(node)],
      [msg.id, msg.targets.length > 0 ? '1' : '0', keepMs, String(msg.created_at), String(bytes),
        String(maxMessages), String(maxBytes), keys.message(''), ...fields],
    )) as [number, number, number]
    this.init.onOutbox?.({ messages, bytes: kept, dropped: 0, refused: stored !== 1 })
    if (stored !== 1) throw new OutboxFullError(node, this.init.outboxBounds, { messages, bytes: kept })
  }

  async setReceipt(id: string, target: string, receipt: Receipt): Promise<void> {
    const { keys, node } = this.init
    const final = receipt.state === 'queued' ? '0' : '1'
    await withRedis(() =>
      this.scripts.call('set_receipt',
        [keys.message(id), keys.outbox(node)], [target, JSON.stringify(receipt), final, id, String(this.retentionMs)],
      ))
  }

  async getOutgoing(id: string): Promise<OutgoingRecord | null> {
    const hash = await withRedis(() => this.redis.hgetall(this.init.keys.message(id)))
    return recordOf(hash)
  }

  async pendingOutgoing(opts: { signal?: AbortSignal } = {}): Promise<OutgoingRecord[]> {
    return retryWhileRegistryAway(() => this.readOutbox(), {
      step: 'loading the outbox of undelivered messages', log: this.init.log, signal: opts.signal, forMs: Infinity,
    })
  }

  private async readOutbox(): Promise<OutgoingRecord[]> {
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

  /**
   * Stores an arriving message before it is acknowledged. A group commit: a
   * message that arrives while a store call to its inbox is out waits for it
   * and goes with every other one that arrived meanwhile, in one script call;
   * alone, it goes at once. Each caller learns its own message's outcome.
   */
  acceptInbound(msg: InboundMessage): Promise<'delivered' | 'duplicate'> {
    const outcome = new Promise<'delivered' | 'duplicate'>((resolve, reject) => {
      const waiting = this.arrivals.get(msg.to)
      if (waiting === undefined) this.arrivals.set(msg.to, [{ msg, resolve, reject }])
      else waiting.push({ msg, resolve, reject })
      if (!this.storing.has(msg.to)) void this.store(msg.to)
    })
    const entry = inboxEntry(msg)
    let incoming = this.incoming.get(msg.to)
    if (incoming === undefined) this.incoming.set(msg.to, incoming = new Map())
    if (!incoming.has(entry)) {
      incoming.set(entry, outcome)
      const done = (): void => {
        if (incoming.get(entry) === outcome) incoming.delete(entry)
        if (incoming.size === 0 && this.incoming.get(msg.to) === incoming) this.incoming.delete(msg.to)
      }
      outcome.then(done, done)
    }
    return outcome
  }

  async hasInbound(to: string, from: string, id: string): Promise<boolean> {
    const entry = `${from}/${id}`
    // A copy on its way in decides: stored (now or before) or not.
    const incoming = this.incoming.get(to)?.get(entry)
    if (incoming !== undefined) return incoming.then(() => true, () => false)
    return (await withRedis(() => this.redis.hexists(this.init.keys.inboxData(to), entry))) === 1
  }

  /** Stores the inbox's waiting messages, a group at a time, until none wait. */
  private async store(to: string): Promise<void> {
    const { keys } = this.init
    this.storing.add(to)
    try {
      for (;;) {
        const waiting = this.arrivals.get(to)
        if (waiting === undefined) return
        const group = waiting.splice(0, this.maxGroup)
        if (waiting.length === 0) this.arrivals.delete(to)
        const { maxMessages, maxBytes } = this.init.inboxBounds
        const dropBefore = Math.max(...group.map((a) => a.msg.received_at)) - this.retentionMs
        const args: string[] = [String(dropBefore), String(maxMessages), String(maxBytes)]
        for (const { msg } of group) args.push(inboxEntry(msg), JSON.stringify(msg), String(msg.received_at))
        try {
          const out = await withRedis(() =>
            this.scripts.call('accept_inbound', [keys.inbox(to), keys.inboxData(to), keys.inboxBytes(to)], args)) as number[]
          const [dropped, messages, bytes] = out as [number, number, number]
          this.init.onInbox?.({ dropped, messages, bytes })
          group.forEach((a, i) => a.resolve(out[i + 3] === 1 ? 'delivered' : 'duplicate'))
        } catch (err) {
          for (const a of group) a.reject(err)
        }
      }
    } finally {
      this.storing.delete(to)
    }
  }

  async inbox(limit: number): Promise<InboundMessage[]> {
    const { keys, node } = this.init
    const ids = await withRedis(() => this.redis.zrevrange(keys.inbox(node), 0, limit - 1))
    if (ids.length === 0) return []
    const rows = await withRedis(() => this.redis.hmget(keys.inboxData(node), ...ids))
    return rows.flatMap((r) => (r === null ? [] : [JSON.parse(r) as InboundMessage]))
  }
}

/** The inbox's de-duplication key: the authenticated sender's name (which has no "/") and the id. */
const inboxEntry = (msg: InboundMessage): string => `${msg.from}/${msg.id}`

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
