import type { Agent } from './agent.js'

/**
 * Parsed agents by id and hash revision, for discover. Redis stays the only
 * source of truth: an entry is used only when the hash's `rev` read from Redis
 * in the same request is the one it was parsed at, so a change made through
 * any daemon is seen at once. Bounded: the oldest entries go first.
 */
export class AgentCache {
  private readonly entries = new Map<string, { rev: string, agent: Agent }>()

  constructor(private readonly maxEntries = 10_000) {}

  /** The agent parsed at this revision, if kept. */
  get(id: string, rev: string): Agent | undefined {
    const e = this.entries.get(id)
    return e !== undefined && e.rev === rev ? e.agent : undefined
  }

  set(id: string, rev: string, agent: Agent): void {
    this.entries.delete(id)
    this.entries.set(id, { rev, agent })
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
  }

  delete(id: string): void {
    this.entries.delete(id)
  }

  get size(): number {
    return this.entries.size
  }
}
