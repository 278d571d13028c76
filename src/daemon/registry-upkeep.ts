import type { Logger } from 'pino'
import { type AgentRegistry, nowOrWhenRegistryAnswers } from '../coordinator/index.js'

/**
 * Brings an older registry up to date once at start: discover's index for
 * agents registered before it existed. The daemon runs without it, so a Redis
 * that is away or starved at start gets a minute in the background (the
 * default bound) and one that errs otherwise (a Cluster, where SCAN is per
 * node) is left for the next start.
 */
export class RegistryUpkeep {
  /** Set while started; aborted at stop, ending a background retry. */
  private running: AbortController | null = null

  constructor(
    private readonly registry: Pick<AgentRegistry, 'buildIndex'>,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.running !== null) return
    const running = new AbortController()
    this.running = running
    await nowOrWhenRegistryAnswers(async () => {
      const indexed = await this.registry.buildIndex()
      if (indexed > 0) this.log.info({ agents: indexed }, 'indexed the registered agents for discover')
    }, {
      step: 'indexing the registered agents for discover',
      meanwhile: 'agents registered by an older version are missing from discover; the next start tries again',
      log: this.log,
      signal: running.signal,
    })
  }

  stop(): void {
    this.running?.abort()
    this.running = null
  }
}
