import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { P2pError } from '../errors.js'
import type { MeshLibp2p } from '../mesh-node.js'
import { dialNode, type PeerDirectory } from '../dial-node.js'
import type { Refusal } from '../name-bindings.js'
import { MessageLink } from './message-link.js'
import { messageHandler, type MessageRefusalReason } from './message-receiver.js'
import type { MessageStore, OutgoingMessage, OutgoingRecord, Receipt, ReceiptState } from './message-store.js'
import { SenderRate, type SenderRateInit } from './sender-rate.js'
import { MESSAGE_PROTOCOL, type MessageFrame } from './wire.js'
import type { StalledStream } from '../frames.js'

/** How long one delivery attempt waits for the receipt. */
export const DEFAULT_ACK_TIMEOUT_MS = 5000

/** First retry delay of a message; doubles per attempt. */
export const DEFAULT_MIN_RETRY_MS = 250

/** Longest retry delay of a message. */
export const DEFAULT_MAX_RETRY_MS = 5000

export interface MessengerInit {
  node: MeshLibp2p
  selfName: string
  store: MessageStore
  directory: PeerDirectory
  log: Logger
  /** How long one attempt waits for the ack (default DEFAULT_ACK_TIMEOUT_MS). */
  ackTimeoutMs?: number
  /** First retry delay (default DEFAULT_MIN_RETRY_MS); doubles per attempt. */
  minRetryMs?: number
  /** Longest retry delay (default DEFAULT_MAX_RETRY_MS). */
  maxRetryMs?: number
  /** Called when a receipt becomes final (metrics). */
  onReceipt?(target: string, state: ReceiptState): void
  /** Called when this node stores a new inbound message (metrics). */
  onInbound?(msg: MessageFrame): void
  /** Called for inbound traffic refused for its sender (non-member, forged from). */
  onRefused?(refusal: Refusal): void
  /** Bounds on what members may send this node. */
  inboundLimits: InboundMessageLimits
  /** Called for a member's message refused by a bound (metrics). */
  onLimited?(reason: MessageRefusalReason, sender: string): void
  /**
   * The store's outbox bounds (messages.outbox), when it refuses a message past them. While this
   * node's undelivered messages stay under half of either bound, the first delivery overlaps the
   * outbox write; nearer the bound the write comes first, so a refused message is never sent.
   */
  outboxBounds?: { maxMessages: number, maxBytes: number }
  /** Each message stream cut off because its peer stopped reading. */
  onStalled?(s: StalledStream): void
}

/** What a member may send this node (see messages.* in the config schema). */
export interface InboundMessageLimits {
  /** Largest message body in bytes, the same bound as the API's. */
  maxBodyBytes: number
  /** Per authenticated sender; null: unlimited. */
  rate: SenderRateInit | null
}

/** What POST /messages asks for. */
export interface SendRequest {
  to: string
  body: unknown
  ttlMs: number
  /** How long send() waits for first receipts before answering with what it has. */
  waitMs: number
}

interface Pending {
  msg: OutgoingMessage
  target: string
  attempts: number
  nextAt: number
  inflight: Promise<Receipt> | null
  /** The final receipt, once known; kept here until it is recorded in the store. */
  final: Receipt | null
  /** Whether the outbox write landed (false: it failed, nothing about it is recorded); receipts wait for it. */
  saved: Promise<boolean>
  /** The final receipt's write, while it runs (one at a time). */
  recording: Promise<Receipt> | null
  /** What the message weighs in the outbox, at most (see outboxBytes). */
  bytes: number
}

/** An upper bound of what the store counts for a message: its JSON plus each target's receipt. */
const outboxBytes = (msg: OutgoingMessage): number => Buffer.byteLength(JSON.stringify(msg)) + 256 * msg.targets.length

const key = (id: string, target: string): string => `${id}\u0000${target}`
const SAVED = Promise.resolve(true)

/**
 * Sends messages with receipts over the direct message protocol. The first
 * attempt runs while the message is written to the store's outbox (send()
 * answers only once it is there, and receipts are recorded after it);
 * attempts repeat with backoff until the ttl; the outbox is resumed after a
 * restart. Duplicate sends are harmless because receivers de-duplicate by
 * (sender, id).
 */
export class Messenger {
  private readonly pending = new Map<string, Pending>()
  /** The outbox weight of the queued pairs (a message to n targets counts n times: an upper bound). */
  private pendingBytes = 0
  private readonly links = new Map<string, Promise<MessageLink>>()
  private readonly downUntil = new Map<string, number>()
  /** Whether start() ran and stop() has not. */
  private running = false
  private started = false
  /** The retry pump; it runs only while something is queued (an idle daemon has no timer here). */
  private timer: NodeJS.Timeout | null = null
  /** Ends the resume of the last run's outbox when this one stops. */
  private resuming: AbortController | null = null
  /** Ids this run sent before that resume read the outbox: already queued here, not resumed twice. */
  private sentBeforeResume: Set<string> | null = null
  private readonly onConnect = (): void => {
    this.downUntil.clear()
    const now = Date.now()
    for (const p of this.pending.values()) p.nextAt = Math.min(p.nextAt, now)
  }

  constructor(private readonly init: MessengerInit) {}

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const { node, selfName, store, log, inboundLimits } = this.init
    await node.handle(
      MESSAGE_PROTOCOL,
      messageHandler({
        selfName,
        store,
        directory: this.init.directory,
        log,
        onDelivered: this.init.onInbound,
        onRefused: this.init.onRefused,
        maxBodyBytes: inboundLimits.maxBodyBytes,
        rate: inboundLimits.rate === null ? null : new SenderRate(inboundLimits.rate),
        onLimited: this.init.onLimited,
        onStalled: this.init.onStalled,
      }),
      { maxInboundStreams: 64 },
    )
    node.addEventListener('peer:connect', this.onConnect)
    this.running = true
    // The last run's outbox is resumed in the background: a store that is down or starved at
    // start (many daemons starting on one machine) keeps no node from joining the mesh, and
    // new messages go out meanwhile; the store waits until it answers.
    const resuming = new AbortController()
    const sentBefore = new Set<string>()
    this.resuming = resuming
    this.sentBeforeResume = sentBefore
    this.resume(resuming.signal, sentBefore).catch((err: unknown) => {
      if (!resuming.signal.aborted) log.error({ err }, 'could not resume the outbox of undelivered messages')
    })
  }

  private async resume(signal: AbortSignal, sentBefore: Set<string>): Promise<void> {
    const records = await this.init.store.pendingOutgoing({ signal })
    if (signal.aborted) return
    if (this.sentBeforeResume === sentBefore) this.sentBeforeResume = null
    const resumed = records.filter((rec) => !sentBefore.has(rec.id))
    for (const rec of resumed) {
      for (const [target, receipt] of Object.entries(rec.receipts)) {
        if (receipt.state === 'queued') this.track(rec, target, receipt.attempts)
      }
    }
    if (resumed.length > 0) this.init.log.info({ messages: resumed.length }, 'resumed undelivered messages from the outbox')
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.running = false
    this.resuming?.abort()
    this.resuming = null
    this.sentBeforeResume = null
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.init.node.removeEventListener('peer:connect', this.onConnect)
    await this.init.node.unhandle(MESSAGE_PROTOCOL).catch(() => {})
    const links = [...this.links.values()]
    this.links.clear()
    for (const l of links) l.then((link) => link.close(), () => {})
    await Promise.allSettled([...this.pending.values()].map((p) => p.inflight))
  }

  /** Stores the message, tries every target once, and answers within waitMs with the receipts so far. */
  async send(req: SendRequest): Promise<OutgoingRecord> {
    const { directory, selfName } = this.init
    if (req.to === selfName) throw new P2pError('ERR_SELF_TARGET', `${selfName} is this node; send to another node or "all"`)
    if (req.to !== 'all' && !directory.has(req.to)) {
      throw new P2pError('ERR_UNKNOWN_NODE', `unknown node "${req.to}"; known: ${['all', ...directory.peerNames()].join(', ')}`)
    }
    const targets = req.to === 'all' ? directory.peerNames() : [req.to]
    const now = Date.now()
    const msg: OutgoingMessage = {
      id: randomUUID(), from: selfName, to: req.to, targets, body: req.body, created_at: now, expires_at: now + req.ttlMs,
    }
    this.sentBeforeResume?.add(msg.id)
    // The outbox write and the first delivery overlap: a receiver stores before it acks either way, and
    // the caller hears of the message only once it is in the outbox (a failed write is a failed send).
    // Only a write the store may refuse for room (OUTBOX_FULL) goes first: a refused message is never sent.
    const bytes = outboxBytes(msg)
    const bounds = this.init.outboxBounds
    const mayBeRefused = bounds !== undefined
      && (this.pending.size + targets.length > bounds.maxMessages / 2 || this.pendingBytes + bytes > bounds.maxBytes / 2)
    let saveError: unknown = null
    const saved = this.init.store.saveOutgoing(msg).then(() => true, (err: unknown) => {
      saveError = err
      for (const t of targets) this.forget(key(msg.id, t))
      return false
    })
    if (mayBeRefused && !(await saved)) throw saveError
    const receipts: Record<string, Receipt> = {}
    for (const t of targets) receipts[t] = { state: 'queued', attempts: 0, updated_at: now, reason: null }
    const attempts = targets.map((t) =>
      this.attempt(this.track(msg, t, 0, saved)).then((r) => {
        receipts[t] = r
      }))
    if (!(await saved)) throw saveError
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled(attempts),
      new Promise((resolve) => (timer = setTimeout(resolve, req.waitMs))),
    ])
    clearTimeout(timer)
    return { ...msg, receipts: { ...receipts } }
  }

  /** Drops a queued (message, target) pair; false when it was not queued. */
  private forget(k: string): boolean {
    const p = this.pending.get(k)
    if (p === undefined) return false
    this.pending.delete(k)
    this.pendingBytes -= p.bytes
    return true
  }

  /** Number of (message, target) pairs still queued in this process. */
  get queued(): number {
    return this.pending.size
  }

  private track(msg: OutgoingMessage, target: string, attempts: number, saved: Promise<boolean> = SAVED): Pending {
    const k = key(msg.id, target)
    let p = this.pending.get(k)
    if (p === undefined) {
      p = {
        msg, target, attempts, nextAt: Date.now(), inflight: null, final: null, saved, recording: null, bytes: outboxBytes(msg),
      }
      this.pending.set(k, p)
      this.pendingBytes += p.bytes
      this.schedulePump()
    }
    return p
  }

  private schedulePump(): void {
    if (this.running && this.timer === null && this.pending.size > 0) this.timer = setInterval(() => this.pump(), 100)
  }

  private pump(): void {
    if (this.pending.size === 0 && this.timer !== null) {
      clearInterval(this.timer)
      this.timer = null
      return
    }
    const now = Date.now()
    for (const p of this.pending.values()) {
      if (p.inflight === null && p.nextAt <= now) {
        this.attempt(p).catch((err: unknown) => this.init.log.error({ err, id: p.msg.id }, 'delivery attempt failed'))
      }
    }
  }

  private attempt(p: Pending): Promise<Receipt> {
    p.inflight ??= this.deliver(p).finally(() => {
      p.inflight = null
    })
    return p.inflight
  }

  private async deliver(p: Pending): Promise<Receipt> {
    const { msg, target } = p
    if (p.final !== null) return this.record(p, p.final)
    const now = Date.now()
    if (now >= msg.expires_at) return this.finish(p, 'expired', `ttl passed after ${p.attempts} attempts`)
    p.attempts++
    try {
      const link = await this.link(target)
      const frame: MessageFrame = {
        t: 'msg', id: msg.id, from: msg.from, to: target, body: msg.body as MessageFrame['body'], sent_at: msg.created_at, expires_at: msg.expires_at,
      }
      const timeoutMs = Math.max(1, Math.min(this.init.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS, msg.expires_at - now))
      const ack = await link.request(frame, Date.now() + timeoutMs)
      return await this.finish(p, ack.result, ack.reason)
    } catch (err) {
      const min = this.init.minRetryMs ?? DEFAULT_MIN_RETRY_MS
      const max = this.init.maxRetryMs ?? DEFAULT_MAX_RETRY_MS
      const delay = Math.min(max, min * 2 ** Math.min(p.attempts - 1, 16))
      p.nextAt = Math.min(Date.now() + delay, msg.expires_at)
      const receipt: Receipt = { state: 'queued', attempts: p.attempts, updated_at: Date.now(), reason: (err as Error).message }
      if (await p.saved) {
        await this.init.store.setReceipt(msg.id, target, receipt).catch((e: unknown) =>
          this.init.log.debug({ err: e, id: msg.id }, 'could not record a retry'))
      }
      return receipt
    }
  }

  /**
   * A final receipt is true as soon as the ack is in, so the caller gets it at
   * once; recording it runs in the background and is retried until it lands.
   * (Reads on the same Redis connection come after the write, so a GET right
   * after the answer sees it.)
   */
  private finish(p: Pending, state: ReceiptState, reason: string | null): Receipt {
    const receipt: Receipt = { state, attempts: p.attempts, updated_at: Date.now(), reason }
    p.final = receipt
    if (state === 'rejected' || state === 'expired') {
      this.init.log.warn({ id: p.msg.id, target: p.target, state, reason }, 'message not delivered')
    }
    this.record(p, receipt).catch((err: unknown) => this.init.log.error({ err }, 'receipt bookkeeping failed'))
    return receipt
  }

  private record(p: Pending, receipt: Receipt): Promise<Receipt> {
    p.recording ??= this.write(p, receipt).finally(() => {
      p.recording = null
    })
    return p.recording
  }

  private async write(p: Pending, receipt: Receipt): Promise<Receipt> {
    // A receipt never lands before its message; a message whose outbox write failed records nothing.
    if (!(await p.saved)) return receipt
    try {
      await this.init.store.setReceipt(p.msg.id, p.target, receipt)
    } catch (err) {
      this.init.log.warn({ err, id: p.msg.id, target: p.target }, 'could not record a receipt; will retry')
      p.nextAt = Date.now() + 1000
      return receipt
    }
    if (this.forget(key(p.msg.id, p.target))) this.init.onReceipt?.(p.target, receipt.state)
    return receipt
  }

  private async link(target: string): Promise<MessageLink> {
    const existing = this.links.get(target)
    if (existing !== undefined) {
      const link = await existing
      if (link.isOpen) return link
      if (this.links.get(target) === existing) this.links.delete(target)
    }
    const until = this.downUntil.get(target) ?? 0
    if (until > Date.now()) throw new P2pError('ERR_PEER_UNREACHABLE', `node ${target} is unreachable`)
    const opening = this.openLink(target)
    this.links.set(target, opening)
    try {
      const link = await opening
      link.closed.then(() => {
        if (this.links.get(target) === opening) this.links.delete(target)
      }, () => {})
      return link
    } catch (err) {
      if (this.links.get(target) === opening) this.links.delete(target)
      this.downUntil.set(target, Date.now() + 500)
      throw err
    }
  }

  private async openLink(target: string): Promise<MessageLink> {
    const stream = await dialNode(this.init.node, this.init.directory, target, MESSAGE_PROTOCOL, AbortSignal.timeout(5000))
    return new MessageLink(stream, { peer: this.init.directory.peerIdOf(target) ?? target, onStalled: this.init.onStalled })
  }

  /** The stored record of a message this node sent. */
  get(id: string): Promise<OutgoingRecord | null> {
    return this.init.store.getOutgoing(id)
  }
}
