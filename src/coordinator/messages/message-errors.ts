import { CoordinatorError } from '../errors.js'

/** The sender's outbox is at its bound with messages still queued: nothing was stored, nothing sent. */
export class OutboxFullError extends CoordinatorError {
  constructor(node: string, bounds: { maxMessages: number, maxBytes: number }, held: { messages: number, bytes: number }) {
    super(
      'OUTBOX_FULL',
      `the outbox of ${node} holds ${held.messages} messages (${held.bytes} bytes) still being delivered; `
        + `the bound is ${bounds.maxMessages} messages or ${bounds.maxBytes} bytes`,
      'retry once queued messages are delivered or expire (GET /messages/{id}); messages.outbox.* sets the bound',
    )
    this.name = 'OutboxFullError'
  }
}
