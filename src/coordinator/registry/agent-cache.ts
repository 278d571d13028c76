import type { Agent } from './agent.js'

/** An agent as parsed at one revision of its hash, and its JSON (made once, for discover's answers). */
export interface CachedAgent {
  rev: string
  /** The agent as the hash held it at `rev`; in_flight is read afresh with every revision check. */
  agent: Agent
  /** A comma, then the agent's JSON without in_flight and its closing brace, as UTF-8 (an answer is written as bytes). */
  jsonHead: Buffer
  /** agentJson's last answer, and the count of tasks in flight it was made with. */
  answered: { inFlight: number, json: Buffer } | null
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
  return { rev, agent, jsonHead: Buffer.from(`,${JSON.stringify(rest).slice(0, -1)}`), answered: null }
}

/**
 * The agent's JSON with its tasks in flight now, after a comma (an answer's
 * first agent takes it from the second byte). Kept for the last count asked,
 * so an answer of agents whose counts did not move is one piece each; an
 * answer is its pieces copied once into one buffer (as strings, the same
 * bytes would be joined, flattened by Koa and encoded again on write: most of
 * what a discover request would allocate).
 */
export function agentJson(entry: CachedAgent, inFlight: number): Buffer {
  if (entry.answered?.inFlight !== inFlight) {
    entry.answered = { inFlight, json: Buffer.concat([entry.jsonHead, Buffer.from(`,"in_flight":${inFlight}}`)]) }
  }
  return entry.answered.json
}
