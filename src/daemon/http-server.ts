import { createServer, type Server } from 'node:http'
import type { CoordinatorApp } from '../coordinator/index.js'
import { type Component, StartError } from './lifecycle.js'

/** The coordinator's HTTP listener: binds at start, drains at stop. */
export class HttpListener implements Component {
  readonly name = 'coordinator http'
  private server: Server | undefined
  private readonly app: CoordinatorApp
  private readonly host: string
  private readonly requestedPort: number
  private readonly drainTimeoutMs: number

  constructor(app: CoordinatorApp, host: string, port: number, drainTimeoutMs: number) {
    this.app = app
    this.host = host
    this.requestedPort = port
    this.drainTimeoutMs = drainTimeoutMs
  }

  /** The bound port (differs from the configured one when that was 0). */
  get port(): number {
    const addr = this.server?.address()
    return typeof addr === 'object' && addr !== null ? addr.port : this.requestedPort
  }

  async start(): Promise<void> {
    const server = createServer(this.app.koa.callback())
    server.keepAliveTimeout = 5000
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
    })
    this.server = server
  }

  /** New requests get 503 while in-flight ones finish; after the drain timeout every connection is cut. */
  async stop(): Promise<void> {
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
