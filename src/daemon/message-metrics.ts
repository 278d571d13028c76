import { Counter, Gauge, type Registry } from 'prom-client'

/** Why a message was refused or dropped by a bound (the metric's reason label). */
export type MessageLimitReason = 'rate_limited' | 'too_large' | 'api_rate_limited' | 'api_too_large' | 'outbox_full'

/** Prometheus metrics of the message bounds: refusals by reason, inbox drops, box sizes. */
export interface MessageMetrics {
  refused(reason: MessageLimitReason): void
  /** After an inbox store: what it holds and how many old entries it dropped. */
  inbox(size: { messages: number, bytes: number, dropped: number }): void
  /** After an outbox store: what it holds. */
  outbox(size: { messages: number, bytes: number }): void
}

export function createMessageMetrics(registry: Registry): MessageMetrics {
  const refused = new Counter({
    name: 'aitbc_messages_refused_total',
    help: 'Messages refused by a bound: rate_limited and too_large (from a member, rejected receipt), api_rate_limited (429), api_too_large (413), outbox_full (429)',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const dropped = new Counter({
    name: 'aitbc_messages_inbox_dropped_total',
    help: 'Oldest inbox entries dropped to keep messages.inbox.maxMessages / maxBytes',
    registers: [registry],
  })
  // Box sizes as of this node's last store (read from the store script's answer, no Redis call at scrape time).
  const box = (name: string, help: string) => new Gauge({ name, help, registers: [registry] })
  const inboxMessages = box('aitbc_messages_inbox_messages', 'Messages in this node\'s inbox, as of its last store')
  const inboxBytes = box('aitbc_messages_inbox_bytes', 'Bytes (stored JSON) in this node\'s inbox, as of its last store')
  const outboxMessages = box('aitbc_messages_outbox_messages', 'Sent messages this node keeps (queued and finished), as of its last send')
  const outboxBytes = box('aitbc_messages_outbox_bytes', 'Bytes (stored JSON) of the sent messages this node keeps, as of its last send')
  return {
    refused: (reason) => refused.inc({ reason }),
    inbox: (size) => {
      if (size.dropped > 0) dropped.inc(size.dropped)
      inboxMessages.set(size.messages)
      inboxBytes.set(size.bytes)
    },
    outbox: (size) => {
      outboxMessages.set(size.messages)
      outboxBytes.set(size.bytes)
    },
  }
}
