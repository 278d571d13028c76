import type { z } from 'zod'
import { AgentNotFoundError } from '../registry/registry-errors.js'
import type { RedisKeys } from './redis-keys.js'
import {
  type Agent,
  agentFromHash,
  type AgentSlot,
  capacityOf,
  type DiscoverQuery,
  type loadMetrics,
  loadOf,
  pushUrlOf,
  type RegisterInput,
  type SETTABLE_STATUSES,
  slotFromHash,
} from '../registry/agent.js'
import { agentJson, AgentCache, type CachedAgent, cachedAgent } from '../registry/agent-cache.js'
import { type RedisClient, withRedis } from './redis-client.js'
import { ScriptLibrary } from './script-loader.js'

/** discoverJson's brackets. */
const OPEN_BRACKET = Buffer.from('[')
const CLOSE_BRACKET = Buffer.from(']')

/** The registry's scripts, lua/registry/*.lua. */
const SCRIPTS = {
  register: 'registry/register',
  touch: 'registry/touch',
  sweep: 'registry/sweep',
  remove: 'registry/remove',
  build_index: 'registry/build-index',
  discover_candidates: 'registry/discover-candidates',
} as const
type ScriptName = keyof typeof SCRIPTS

/** A discovered agent: as parsed at its hash's revision, with its tasks in flight now. */
interface Found {
  entry: CachedAgent
  inFlight: number
}

/** Result of one sweep: which agents this daemon marked stale or removed. */
export interface SweepResult {
  marked: string[]
  removed: string[]
}

/**
 * The agent registry. Redis is the only source of truth: nothing is cached in
 * the process, so every daemon on the same Redis sees every agent at once.
 */
export class AgentRegistry {
  private readonly redis: RedisClient
  private readonly scripts: ScriptLibrary<ScriptName>
  private readonly keys: RedisKeys
  /** Parsed agents, used only at the revision Redis has now (see AgentCache). */
  private readonly cache = new AgentCache()

  constructor(redis: RedisClient, keys: RedisKeys) {
    this.redis = redis
    this.scripts = new ScriptLibrary(redis, { name: 'aitbc_registry', scripts: SCRIPTS })
    this.keys = keys
  }

  /** Runs a script with its first `numberOfKeys` values as KEYS and the rest as ARGV. */
  private run<T>(name: ScriptName, numberOfKeys: number, ...values: string[]): Promise<T> {
    return this.scripts.call(name, values.slice(0, numberOfKeys), values.slice(numberOfKeys)) as Promise<T>
  }

  private indexKeys(agentId: string): string[] {
    return [this.keys.agent(agentId), this.keys.activeAgents, this.keys.allAgents, this.keys.agentHeartbeats]
  }

  /** The discover index's key prefixes, for the scripts. */
  private indexPrefixes(): string[] {
    const p = this.keys.agentIndexPrefixes
    return [p.type, p.capability, p.service]
  }

  /** Registers an agent, or updates it when already registered (the first registration time is kept). */
  async register(input: RegisterInput): Promise<{ registeredAt: string }> {
    const now = new Date().toISOString()
    const status = input.status ?? 'active'
    const fields = [
      'agent_id', input.agent_id,
      'agent_type', input.agent_type,
      'capabilities', JSON.stringify(input.capabilities),
      'services', JSON.stringify(input.services),
      'endpoints', JSON.stringify(input.endpoints),
      'metadata', JSON.stringify(input.metadata),
      'chain_id', input.chain_id ?? '',
      'island_id', input.island_id ?? '',
      'load_metrics', JSON.stringify(input.load_metrics ?? {}),
      // Derived once, here, for the claim scripts (empty: the coordinator's default).
      'capacity', String(capacityOf(input.metadata) ?? ''),
    ]
    const registeredAt = await withRedis(() =>
      this.run<string>('register', 6,
        ...this.indexKeys(input.agent_id),
        this.keys.pushAgents,
        this.keys.agentHealth,
        input.agent_id,
        now,
        status,
        String(loadOf(input.load_metrics)),
        pushUrlOf(input.endpoints) === null ? '0' : '1',
        this.keys.taskEvents,
        ...this.indexPrefixes(),
        ...fields,
      ),
    )
    return { registeredAt }
  }

  /** Returns one agent, or throws AgentNotFoundError. */
  async get(agentId: string): Promise<Agent> {
    const hash = await withRedis(() => this.redis.hgetall(this.keys.agent(agentId)))
    const agent = agentFromHash(hash)
    if (agent === null) throw new AgentNotFoundError(agentId)
    return agent
  }

  /** Removes an agent and its index entries in one script; throws AgentNotFoundError when there was none. */
  async remove(agentId: string): Promise<void> {
    const existed = await withRedis(() =>
      this.run<number>('remove', 6,
        ...this.indexKeys(agentId),
        this.keys.pushAgents,
        this.keys.agentHealth,
        agentId,
        this.keys.taskEvents,
        ...this.indexPrefixes(),
      ),
    )
    if (existed === 0) throw new AgentNotFoundError(agentId)
  }

  /** Indexes the agents of a registry made before discover's index (once; -1 when it was built already). */
  async buildIndex(): Promise<number> {
    return withRedis(() =>
      this.run<number>('build_index', 3, this.keys.allAgents, this.keys.agentHealth, this.keys.agentIndexBuilt,
        this.keys.agentPrefix, ...this.indexPrefixes()),
    )
  }

  /** Records contact from an agent; a stale agent that beats is active again. */
  async heartbeat(agentId: string, metrics?: z.infer<typeof loadMetrics>): Promise<string> {
    return this.touch(agentId, '', metrics)
  }

  /** Sets an agent's status (and optionally its load), counting as contact. */
  async setStatus(
    agentId: string,
    status: (typeof SETTABLE_STATUSES)[number],
    metrics?: z.infer<typeof loadMetrics>,
  ): Promise<string> {
    return this.touch(agentId, status, metrics)
  }

  private async touch(
    agentId: string,
    status: string,
    metrics?: z.infer<typeof loadMetrics>,
  ): Promise<string> {
    const result = await withRedis(() =>
      this.run<string | null>('touch', 5,
        ...this.indexKeys(agentId),
        this.keys.agentHealth,
        agentId,
        new Date().toISOString(),
        status,
        metrics === undefined ? '' : String(loadOf(metrics)),
        metrics === undefined ? '' : JSON.stringify(metrics),
        this.keys.taskEvents,
      ),
    )
    if (result === null) throw new AgentNotFoundError(agentId)
    return result
  }

  /**
   * Agents matching the query, healthiest first (ties by id). The candidates
   * come from the index, in answer order (see discoverCandidates: the status,
   * type, capability and service sets and the health zset), and only as many
   * agents are read as the answer needs; each is checked against the whole query again.
   */
  async discover(query: DiscoverQuery): Promise<Agent[]> {
    return (await this.discovered(query)).map(({ entry, inFlight }) => ({ ...entry.agent, in_flight: inFlight }))
  }

  /**
   * discover()'s agents as a JSON array in UTF-8 pieces, to be written in
   * order (Buffer.concat gives the array); each agent is serialised once per
   * revision of its hash.
   */
  async discoverJson(query: DiscoverQuery): Promise<{ count: number, parts: Buffer[] }> {
    const found = await this.discovered(query)
    const parts: Buffer[] = [OPEN_BRACKET]
    for (const [i, { entry, inFlight }] of found.entries()) {
      const json = agentJson(entry, inFlight)
      parts.push(i === 0 ? json.subarray(1) : json)
    }
    parts.push(CLOSE_BRACKET)
    return { count: found.length, parts }
  }

  private async discovered(query: DiscoverQuery): Promise<Found[]> {
    const sets = [query.status === 'active' ? this.keys.activeAgents : this.keys.allAgents]
    if (query.agent_type !== undefined) sets.push(this.keys.agentsByType(query.agent_type))
    for (const c of query.capabilities ?? []) sets.push(this.keys.agentsByCapability(c))
    for (const s of query.services ?? []) sets.push(this.keys.agentsByService(s))
    const min = String(query.min_health_score ?? -1)
    const keys = [this.keys.agentHealth, ...sets]
    const candidates = (want: number, skip: number) => withRedis(() =>
      this.run<(string | null)[]>('discover_candidates', keys.length, ...keys, min, String(want), String(skip), this.keys.agentPrefix))
    // Each candidate is checked against the whole query as Redis holds the agent now (a status other than
    // active has no set of its own); when some fall out, the next ones are asked for.
    const out: Found[] = []
    for (let skip = 0; out.length < query.limit;) {
      const want = query.limit - out.length
      const flat = await candidates(want, skip)
      for (const found of await this.current(flat)) if (matchesQuery(found.entry.agent, query)) out.push(found)
      const n = flat.length / 3
      if (n < want) break
      skip += n
    }
    return out
  }

  /**
   * The candidates (id, revision, in flight, ...) as Redis holds them now, in
   * order, without those gone: only the hashes whose revision this process has
   * not parsed yet are read.
   */
  private async current(flat: (string | null)[]): Promise<Found[]> {
    const missing: string[] = []
    for (let i = 0; i < flat.length; i += 3) {
      const rev = flat[i + 1]
      if (rev === null || this.cache.get(flat[i]!, rev!) === undefined) missing.push(flat[i]!)
    }
    // Read now: used even when the hash changed again since its revision was read.
    const fresh = new Map<string, CachedAgent | null>()
    for (const [i, h] of (await this.hashes(missing)).entries()) {
      const id = missing[i]!
      const agent = agentFromHash(h)
      const entry = agent === null ? null : cachedAgent(h.rev ?? '', agent)
      if (entry === null || h.rev === undefined) this.cache.delete(id)
      else this.cache.set(id, entry)
      fresh.set(id, entry)
    }
    const out: Found[] = []
    for (let i = 0; i < flat.length; i += 3) {
      const id = flat[i]!
      const entry = fresh.has(id) ? fresh.get(id) : this.cache.get(id, flat[i + 1]!)
      if (entry !== null && entry !== undefined) out.push({ entry, inFlight: Number(flat[i + 2]) || 0 })
    }
    return out
  }

  /** The agent hashes of the ids, read 500 at a time. */
  private async hashes(ids: string[]): Promise<Record<string, string>[]> {
    const out: Record<string, string>[] = []
    const batch = 500
    for (let i = 0; i < ids.length; i += batch) {
      out.push(...await withRedis(() =>
        Promise.all(ids.slice(i, i + batch).map((id) => this.redis.hgetall(this.keys.agent(id)))),
      ))
    }
    return out
  }

  /**
   * The active agents as assignment sees them (capacity and weight through
   * this module's parsers; defaultCapacity where metadata gives none).
   * pushOnly: only those tasks are pushed to.
   */
  async activeSlots(defaultCapacity: number, opts: { pushOnly?: boolean } = {}): Promise<AgentSlot[]> {
    const ids = await withRedis(() => opts.pushOnly === true
      ? this.redis.sinter(this.keys.pushAgents, this.keys.activeAgents)
      : this.redis.smembers(this.keys.activeAgents))
    const out: AgentSlot[] = []
    for (const h of await this.hashes(ids)) {
      const slot = slotFromHash(h, defaultCapacity)
      if (slot !== null && h.status === 'active') out.push(slot)
    }
    return out
  }

  /** Number of registered agents and of active ones. */
  async counts(): Promise<{ total: number, active: number }> {
    const [total, active] = await withRedis(() =>
      Promise.all([this.redis.scard(this.keys.allAgents), this.redis.scard(this.keys.activeAgents)]),
    )
    return { total, active }
  }

  /** One sweep: marks silent agents stale and removes long-silent ones (atomic, exactly once cluster-wide). */
  async sweep(staleAfterMs: number, removeAfterMs: number): Promise<SweepResult> {
    const [marked, removed] = await withRedis(() =>
      this.run<[string[], string[]]>('sweep', 5,
        this.keys.activeAgents,
        this.keys.allAgents,
        this.keys.agentHeartbeats,
        this.keys.pushAgents,
        this.keys.agentHealth,
        String(staleAfterMs),
        String(removeAfterMs),
        this.keys.agentPrefix,
        new Date().toISOString(),
        this.keys.taskEvents,
        ...this.indexPrefixes(),
      ),
    )
    return { marked, removed }
  }
}

function hasAll(have: string[], want: string[] | undefined): boolean {
  return want === undefined || want.every((w) => have.includes(w))
}

function matchesQuery(a: Agent, q: DiscoverQuery): boolean {
  return (
    (q.status === undefined || a.status === q.status) &&
    (q.agent_type === undefined || a.agent_type === q.agent_type) &&
    hasAll(a.capabilities, q.capabilities) &&
    hasAll(a.services, q.services) &&
    (q.min_health_score === undefined || a.health_score >= q.min_health_score)
  )
}
