import type { Agent } from './agent.js'

/** An agent as parsed at one revision of its hash, and its JSON (made once, for discover's answers). */
export interface CachedAgent {
  rev: string
  /** The agent as the hash held it at `rev`; in_flight is read afresh with every revision check. */
  agent: Agent
  /** JSON of the agent without in_flight and its closing brace. */
  jsonHead: string
}

/**
 * Parsed agents by id and hash revision, for discover. Redis stays the only
 * source of truth: an entry is used only when the hash's `rev` read from Redis
 * in the same request is the one it was parsed at, so a change made through
 * any daemon is seen at once. Bounded: the oldest entries go first.
 */
export class AgentCache {
  private readonly entries = new Map<string, CachedAgent>()

  constructor(private readonly maxEntries = 10_000) {}

  /** The agent parsed at this revision, if kept. */
  get(id: string, rev: string): CachedAgent | undefined {
    const e = this.entries.get(id)
    return e !== undefined && e.rev === rev ? e : undefined
  }

  set(id: string, entry: CachedAgent): void {
    this.entries.delete(id)
    this.entries.set(id, entry)
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
  }

  delete(id: string): void {
    this.entries.delete(id)
  }

  get size(): number {
    return this.entries.size
  }
}

/** An agent parsed at a revision, serialised once. */
export function cachedAgent(rev: string, agent: Agent): CachedAgent {
  const { in_flight: _, ...rest } = agent
  return { rev, agent, jsonHead: JSON.stringify(rest).slice(0, -1) }
}

/** The agent's JSON with its tasks in flight now. */
export function agentJson(entry: CachedAgent, inFlight: number): string {
  return `${entry.jsonHead},"in_flight":${inFlight}}`
}
