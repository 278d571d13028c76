import type { Logger } from 'pino'
import type { AgentRegistry } from '../store/agent-registry.js'

/** Settings of the stale/removal sweep. */
export interface AgentSweeperInit {
  registry: AgentRegistry
  log: Logger
  /** An agent unheard this long is stale and gets no tasks. */
  staleAfterMs: number
  /** An agent unheard this long is removed from the registry. */
  removeAfterMs: number
  /** How often this daemon sweeps (default: a quarter of staleAfterMs, at least 100 ms). */
  intervalMs?: number
}

/**
 * Every daemon sweeps; the sweep is one Lua script, so whichever daemon runs
 * first does each transition and logs it, exactly once across the cluster.
 */
export class AgentSweeper {
  private timer: NodeJS.Timeout | undefined
  private started = false
  private running: Promise<void> | undefined
  private readonly init: AgentSweeperInit

  constructor(init: AgentSweeperInit) {
    this.init = init
  }

  start(): void {
    if (this.started) return
    this.started = true
    const interval = this.init.intervalMs ?? Math.max(100, Math.floor(this.init.staleAfterMs / 4))
    this.timer = setInterval(() => {
      if (this.running !== undefined) return
      this.running = this.sweepOnce()
        .catch((err) => this.init.log.warn({ err }, 'agent sweep failed; will retry'))
        .finally(() => {
          this.running = undefined
        })
    }, interval)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.timer)
    this.timer = undefined
    await this.running
  }

  /** One sweep, logging what this daemon changed. */
  async sweepOnce(): Promise<void> {
    const { marked, removed } = await this.init.registry.sweep(
      this.init.staleAfterMs,
      this.init.removeAfterMs,
    )
    for (const id of marked) this.init.log.info({ agent_id: id }, 'agent marked stale: no heartbeat')
    for (const id of removed) this.init.log.info({ agent_id: id }, 'stale agent removed from the registry')
  }
}
