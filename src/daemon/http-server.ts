import { createServer, type Server } from 'node:http'
import type { CoordinatorApp } from '../coordinator/index.js'
import { type Startable, StartError } from './startable.js'

/** Bounds on what one client can hold (coordinator.* in the config). */
export interface HttpLimits {
  /** Time to receive the request headers. */
  headersTimeoutMs: number
  /** Time to receive the whole request, body included. */
  requestTimeoutMs: number
  /** Open connections at once; more are refused. */
  maxConnections: number
}

/** The coordinator's HTTP listener: binds at start, drains at stop. */
export class HttpListener implements Startable {
  private server: Server | undefined
  private started = false
  private readonly app: CoordinatorApp
  private readonly host: string
  private readonly requestedPort: number
  private readonly drainTimeoutMs: number
  private readonly limits: HttpLimits

  constructor(app: CoordinatorApp, host: string, port: number, drainTimeoutMs: number, limits: HttpLimits) {
    this.app = app
    this.host = host
    this.requestedPort = port
    this.drainTimeoutMs = drainTimeoutMs
    this.limits = limits
  }

  /** The bound port (differs from the configured one when that was 0). */
  get port(): number {
    const addr = this.server?.address()
    return typeof addr === 'object' && addr !== null ? addr.port : this.requestedPort
  }

  /** The API's URL once the listener is bound, else null (port 0 is resolved by binding). */
  get url(): string | null {
    if (this.server === undefined) return null
    const shown = this.host === '0.0.0.0' ? '127.0.0.1' : this.host
    return `http://${shown.includes(':') ? `[${shown}]` : shown}:${this.port}`
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    // A client that sends its headers or body slowly (or stalls) is cut off with 408; long polls are
    // unaffected: these bound receiving the request, not answering it. Node checks them every
    // connectionsCheckingInterval (30 s by default), so that follows the shorter timeout.
    const server = createServer({
      headersTimeout: this.limits.headersTimeoutMs,
      requestTimeout: this.limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, this.limits.headersTimeoutMs),
      keepAliveTimeout: 5000,
    }, this.app.callback())
    server.maxConnections = this.limits.maxConnections
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const where = `${this.host}:${this.requestedPort}`
        if (err.code === 'EADDRINUSE')
          reject(
            new StartError(
              `coordinator port ${this.requestedPort} is already in use (${where}); stop the other process or set coordinator.port`,
            ),
          )
        else if (err.code === 'EACCES')
          reject(
            new StartError(
              `no permission to bind coordinator port ${where}; use a port above 1023 or run as root`,
            ),
          )
        else if (err.code === 'EADDRNOTAVAIL')
          reject(new StartError(`coordinator.host ${this.host} is not an address of this machine`))
        else reject(err)
      })
      server.listen(this.requestedPort, this.host, () => resolve())
    }).catch((err: unknown) => {
      // Nothing is bound: a later start may try again.
      this.started = false
      throw err
    })
    this.server = server
  }

  /** New requests get 503 while in-flight ones finish; after the drain timeout every connection is cut. */
  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    const server = this.server
    if (server === undefined) return
    this.app.startDraining()
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeIdleConnections()
    const idle = setInterval(() => server.closeIdleConnections(), 100)
    const timer = setTimeout(() => server.closeAllConnections(), this.drainTimeoutMs)
    await closed
    clearInterval(idle)
    clearTimeout(timer)
    this.server = undefined
  }
}
