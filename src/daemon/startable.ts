/**
 * A service the composition root starts and stops, in the manner of js-libp2p's
 * Startable. `start` and `stop` are idempotent (a second call, or `stop` before
 * `start`, does nothing) and `afterStart` runs once every service has started,
 * so a service that needs another one running waits for it there instead of
 * being handed the value by a setter later.
 *
 * Declared here once; services in p2p, ops and coordinator satisfy it
 * structurally (p2p may import nothing of ours), and the root's typed
 * service list is where the compiler checks each of them.
 */
export interface Startable {
  /** Starts the service; a second call does nothing. */
  start(): void | Promise<void>
  /** Runs once every service of the graph has started. */
  afterStart?(): void | Promise<void>
  /** Runs before any service of the graph stops (drain, say goodbye). */
  beforeStop?(): void | Promise<void>
  /** Stops the service; a second call, or a call before start, does nothing. */
  stop(): void | Promise<void>
}

/** Raised when start-up fails; its message is the one line the operator sees. */
export class StartError extends Error {
  readonly code = 'ERR_START'
}

/** A service of the graph and the name logs and start errors give it. */
export interface NamedService {
  readonly name: string
  readonly service: Startable
}

/**
 * The services of one daemon in start order: started in order, then every
 * afterStart; stopped by every beforeStop in reverse, then every stop in
 * reverse. A failed start stops what had started (in reverse) and rethrows.
 */
export class ServiceGraph implements Startable {
  private readonly entries: NamedService[] = []
  private started: NamedService[] | null = null

  constructor(private readonly onStopError: (name: string, err: unknown) => void) {}

  /** Adds a service at the end of the start order and returns it. */
  add<T extends Startable>(name: string, service: T): T {
    this.entries.push({ name, service })
    return service
  }

  /** Every service, in start order. */
  get services(): readonly NamedService[] {
    return this.entries
  }

  async start(): Promise<void> {
    if (this.started !== null) return
    const started: NamedService[] = []
    this.started = started
    try {
      for (const e of this.entries) {
        await e.service.start()
        started.push(e)
      }
      for (const e of this.entries) await e.service.afterStart?.()
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async stop(): Promise<void> {
    const started = this.started
    if (started === null) return
    this.started = null
    const reversed = [...started].reverse()
    for (const e of reversed) await this.attempt(e, () => e.service.beforeStop?.())
    for (const e of reversed) await this.attempt(e, () => e.service.stop())
  }

  private async attempt(e: NamedService, step: () => void | Promise<void>): Promise<void> {
    // One service failing to stop does not keep the others running.
    try {
      await step()
    } catch (err) {
      this.onStopError(e.name, err)
    }
  }
}
