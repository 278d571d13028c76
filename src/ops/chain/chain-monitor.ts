import type { Logger } from 'pino'
import type { ChainStatus } from '../../p2p/index.js'
import type { ChainRpc } from './chain-rpc.js'

/** The last chain reading, as the status gossip carries it. */
export interface ChainReading {
  /** Last good reading, or null if there never was one (or no chain is configured). */
  chain: ChainStatus | null
  /** Unix seconds of the last good reading. */
  lastSync: number | null
  /** Why the last poll failed, or null. */
  problem: string | null
}

/**
 * Polls the local chain RPC every interval so the status gossip can read the
 * result without waiting. A failed poll keeps the last good values and
 * reports the reason, which makes this node degraded.
 */
export class ChainMonitor {
  private reading: ChainReading = { chain: null, lastSync: null, problem: null }
  private timer: NodeJS.Timeout | null = null
  private started = false
  private polling = false

  constructor(
    private readonly rpc: ChainRpc,
    private readonly intervalMs: number,
    private readonly log: Logger,
    /** Called when the reading changes (height, hash, mempool or problem), so it can be gossiped at once. */
    private readonly onChange?: (reading: ChainReading) => void,
  ) {}

  current(): ChainReading {
    return this.reading
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    await this.poll()
    this.timer = setInterval(() => {
      this.poll().catch((err: unknown) => this.log.error({ err }, 'chain poll failed'))
    }, this.intervalMs)
  }

  stop(): void {
    if (!this.started) return
    this.started = false
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** Reads head and mempool once; a periodic poll that would overlap the previous one is skipped. */
  async poll(): Promise<ChainReading> {
    if (this.polling) return this.reading
    this.polling = true
    try {
      return await this.readNow()
    } finally {
      this.polling = false
    }
  }

  /** Reads head and mempool now, whatever else is in flight (live checks must not see an older reading). */
  async readNow(): Promise<ChainReading> {
    const before = this.reading
    try {
      const [head, mempool] = await Promise.all([this.rpc.head(), this.rpc.mempoolSize()])
      if (this.reading.problem !== null) this.log.info({ rpc: this.rpc.baseUrl }, 'chain RPC answers again')
      this.reading = {
        chain: { height: head.height, hash: head.hash, mempool_size: mempool },
        lastSync: Math.floor(Date.now() / 1000),
        problem: null,
      }
    } catch (err) {
      const problem = (err as Error).message
      if (this.reading.problem !== problem) this.log.warn({ rpc: this.rpc.baseUrl, err: problem }, 'chain RPC failing; node reports itself degraded')
      this.reading = { ...this.reading, problem }
    } finally {
      if (changed(before, this.reading)) this.onChange?.(this.reading)
    }
    return this.reading
  }
}

function changed(a: ChainReading, b: ChainReading): boolean {
  return a.problem !== b.problem || a.chain?.height !== b.chain?.height || a.chain?.hash !== b.chain?.hash
    || a.chain?.mempool_size !== b.chain?.mempool_size
}
