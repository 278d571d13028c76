import type { Logger } from 'pino'
import type { ProcessGroupFiles } from './process-groups.js'

/**
 * Kills, once at start, the action process groups a crashed run left behind,
 * before any new action can record its own.
 */
export class LeftoverGroups {
  private started = false

  constructor(private readonly groups: Pick<ProcessGroupFiles, 'reapLeftovers'>, private readonly log: Logger) {}

  start(): void {
    if (this.started) return
    this.started = true
    const left = this.groups.reapLeftovers()
    if (left.killed.length + left.reused.length > 0) {
      this.log.warn(left, `killed ${left.killed.length} action process groups a crashed run left; ${left.reused.length} recorded pids now belong to other processes and were left alone`)
    }
  }

  stop(): void {
    this.started = false
  }
}
