/** Receipt states, per target node. queued is the only one that is not final. */
export const RECEIPT_STATES = ['queued', 'delivered', 'duplicate', 'rejected', 'expired'] as const
export type ReceiptState = (typeof RECEIPT_STATES)[number]

/** Where one message stands with one target. */
export interface Receipt {
  state: ReceiptState
  /** Delivery attempts so far. */
  attempts: number
  /** ms since the epoch of the last change. */
  updated_at: number
  /** Why it is still queued, or why it was rejected/expired. */
  reason: string | null
}

/** A message this node sends. */
export interface OutgoingMessage {
  id: string
  from: string
  /** As asked: a node name or "all". */
  to: string
  /** The nodes it goes to (for "all": every other node known when it was sent). */
  targets: string[]
  body: unknown
  created_at: number
  expires_at: number
}

export interface OutgoingRecord extends OutgoingMessage {
  receipts: Record<string, Receipt>
}

/** A message this node received and persisted. */
export interface InboundMessage {
  id: string
  from: string
  /** The peer id of the connection it came over. */
  from_peer: string
  to: string
  body: unknown
  sent_at: number
  expires_at: number
  received_at: number
}

/**
 * Durable message state. The sender's outbox must survive its restart, and the
 * receiver must persist before it acknowledges; the daemon backs this with Redis.
 */
export interface MessageStore {
  /** Stores a new message with every target's receipt queued. */
  saveOutgoing(msg: OutgoingMessage): Promise<void>
  /** Records a receipt; once every target's receipt is final the message leaves the outbox. */
  setReceipt(id: string, target: string, receipt: Receipt): Promise<void>
  getOutgoing(id: string): Promise<OutgoingRecord | null>
  /** Messages with a queued receipt (resumed after a restart); waits while the store is away, until the signal aborts. */
  pendingOutgoing(opts?: { signal?: AbortSignal }): Promise<OutgoingRecord[]>
  /** Persists an inbound message once; a second copy from the same sender with the same id is a duplicate. */
  acceptInbound(msg: InboundMessage): Promise<'delivered' | 'duplicate'>
  /** Whether node `to`'s inbox holds (or is storing) the message `id` from `from`. */
  hasInbound(to: string, from: string, id: string): Promise<boolean>
  /** Newest first. */
  inbox(limit: number): Promise<InboundMessage[]>
}

export const isFinal = (state: ReceiptState): boolean => state !== 'queued'
