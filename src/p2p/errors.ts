/** A p2p failure with a stable code; `cause` holds the underlying error. */
export class P2pError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'P2pError'
  }
}
