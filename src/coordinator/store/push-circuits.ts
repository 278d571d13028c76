import type { RedisKeys } from './redis-keys.js'
import type { AgentSlot } from '../registry/agent.js'
import { type RedisClient, withRedis } from './redis-client.js'

/** When pushes that never reach an agent open its circuit, and how long it stays open. */
export interface CircuitSettings {
  /** Pushes in a row that never reached the agent before its circuit opens. */
  openAfterFailures: number
  /** First wait before a push tries an open circuit's agent again (doubled at each reopening). */
  probeAfterMs: number
  /** Longest such wait. */
  maxProbeAfterMs: number
}

/** What a push that never reached its agent did. */
export interface UnreachedOutcome {
  /** The task went back to its queue with its attempt not counted (false: it had moved on already). */
  requeued: boolean
  /** The agent's circuit opened (or reopened after a failed probe) with this push. */
  opened: boolean
  /** Pushes in a row that never reached the agent. */
  failures: number
}

/** An agent whose push circuit is open or half open, as metrics show it. */
export interface OpenCircuit {
  agent_id: string
  state: 'open' | 'half_open'
  failures: number
}

/**
 * Push delivery's circuit per agent, kept in the agent's hash in Redis so
 * every daemon leaves the same agents out (lua/tasks/push-unreached.lua).
 */
export class PushCircuits {
  /**
   * @param run runs lua/tasks/push-unreached.lua or push-reached.lua (the task library's, with the
   * repository's settings), given the script's KEYS and its own ARGV
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly run: (name: 'unreached' | 'reached', keys: string[], args: string[]) => Promise<unknown>,
  ) {}

  /** A push of the task to the agent never reached it: the task goes back uncounted; the agent's failure run grows. */
  async unreached(taskId: string, agentId: string, why: string, s: CircuitSettings): Promise<UnreachedOutcome> {
    const [out, opened, failures] = await withRedis(() => this.run(
      'unreached',
      [this.keys.leases, this.keys.task(taskId), this.keys.agent(agentId), this.keys.pushCircuits, this.keys.agentHealth],
      [taskId, agentId, why, String(s.openAfterFailures), String(s.probeAfterMs), String(s.maxProbeAfterMs)],
    ) as Promise<[string, string, string]>)
    return { requeued: out === 'REQUEUED', opened: opened === '1', failures: Number(failures) }
  }

  /**
   * The agent answered a push: its failure run ends and an open circuit closes (true when it closed now).
   * A note, when given, goes in the task's history.
   */
  async reached(agentId: string, taskId: string, note = ''): Promise<boolean> {
    const closed = await withRedis(() => this.run(
      'reached',
      [this.keys.leases, this.keys.agent(agentId), this.keys.pushCircuits, this.keys.agentHealth, this.keys.task(taskId)],
      [agentId, note],
    ) as Promise<string>)
    return closed === '1'
  }

  /** Agents whose circuit is open or half open now. */
  async open(limit = 1000): Promise<OpenCircuit[]> {
    const ids = await withRedis(() => this.redis.srandmember(this.keys.pushCircuits, limit))
    const rows = await withRedis(() => Promise.all(ids.map((id) => this.redis.hmget(this.keys.agent(id), 'circuit', 'push_failures'))))
    const out: OpenCircuit[] = []
    for (const [i, [state, failures]] of rows.entries()) {
      if (state === 'open' || state === 'half_open') out.push({ agent_id: ids[i]!, state, failures: Number(failures ?? 0) || 0 })
    }
    return out.sort((a, b) => a.agent_id.localeCompare(b.agent_id))
  }
}

/**
 * Whether a claim may take the agent now: its circuit is closed, or its probe time has come
 * (open, or half open with the probing push's hold run out: that daemon may have died).
 */
export function circuitAllows(agent: AgentSlot, nowMs: number): boolean {
  return agent.circuit === 'closed' || agent.probeAtMs <= nowMs
}
