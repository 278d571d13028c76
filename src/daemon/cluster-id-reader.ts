import type { Logger } from 'pino'
import { readClusterId, type RedisClient, type RedisKeys } from '../coordinator/index.js'

/**
 * Reads (or creates) the registry's cluster id, retrying while Redis is away,
 * so the gossiped registry fingerprint fills in as soon as Redis answers.
 */
export class ClusterIdReader {
  private id: string | null = null
  private timer: NodeJS.Timeout | null = null
  private started = false

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly retryMs: number,
    private readonly log: Logger,
  ) {}

  get clusterId(): string | null {
    return this.id
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    await this.attempt()
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }

  private async attempt(): Promise<void> {
    try {
      this.id = await readClusterId(this.redis, this.keys)
      this.log.info({ clusterId: this.id }, 'registry cluster id')
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cluster id not readable yet')
      // A retry that fires after stop would leave a timer behind: only a started reader retries.
      if (!this.started) return
      this.timer = setTimeout(() => {
        this.attempt().catch((e: unknown) => this.log.error({ err: e }, 'cluster id retry failed'))
      }, this.retryMs)
    }
  }
}
