import type { Logger } from 'pino'
import { type AgentRegistry, migrateAgentTaskLists, type RedisClient, type RedisKeys } from '../coordinator/index.js'

/**
 * Brings an older registry up to date once at start: pull lists of the old
 * key layout, and discover's index for agents registered before it existed.
 * A Redis that is down (or a Cluster, where SCAN is per node) is left for the
 * next start.
 */
export class RegistryUpkeep {
  private started = false

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly registry: Pick<AgentRegistry, 'buildIndex'>,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const moved = await migrateAgentTaskLists(this.client, this.keys).catch((err: unknown) => {
      this.log.warn({ err: (err as Error).message }, 'pull lists of the old key layout not migrated now; the next start tries again')
      return 0
    })
    if (moved > 0) this.log.info({ lists: moved }, 'moved agent pull lists from agent:{id}:tasks to agent-tasks:{id}')
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
