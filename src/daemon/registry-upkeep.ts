import type { Logger } from 'pino'
import type { AgentRegistry } from '../coordinator/index.js'

/**
 * Brings an older registry up to date once at start: discover's index for
 * agents registered before it existed. A Redis that is down (or a Cluster,
 * where SCAN is per node) is left for the next start.
 */
export class RegistryUpkeep {
  private started = false

  constructor(
    private readonly registry: Pick<AgentRegistry, 'buildIndex'>,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const indexed = await this.registry.buildIndex().catch((err: unknown) => {
      this.log.warn({ err: (err as Error).message }, 'agents not indexed for discover now; the next start tries again')
      return -1
    })
    if (indexed > 0) this.log.info({ agents: indexed }, 'indexed the registered agents for discover')
  }

  stop(): void {
    this.started = false
  }
}
