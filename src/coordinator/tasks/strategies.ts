import type { AgentSlot } from '../registry/agent.js'
import type { Requirements, Strategy } from './task.js'

/**
 * Whether an agent can take a task at all: type, capabilities, services, health, room
 * (eligible() in store/lua/tasks/includes/claims.lua is this rule).
 */
export function eligible(agent: AgentSlot, req: Requirements): boolean {
  if (agent.in_flight >= agent.capacity) return false
  if (req.agent_type !== undefined && agent.agent_type !== req.agent_type) return false
  if (req.capabilities?.some((c) => !agent.capabilities.includes(c))) return false
  if (req.services?.some((s) => !agent.services.includes(s))) return false
  if (req.min_health_score !== undefined && agent.health_score < req.min_health_score) return false
  return true
}

const byId = (a: AgentSlot, b: AgentSlot): number => a.agent_id.localeCompare(b.agent_id)
const fewestInFlight = (a: AgentSlot, b: AgentSlot): number => a.in_flight - b.in_flight || a.load - b.load || byId(a, b)

/** How many leading dash-separated parts two regions share (eu-west-1 vs eu-central-1: 1). */
function closeness(a: string | null, b: string): number {
  if (a === null) return -1
  const x = a.split('-')
  const y = b.split('-')
  let n = 0
  while (n < x.length && n < y.length && x[n] === y[n]) n++
  return n
}

/**
 * Picks one of the eligible agents. `turn` is a counter shared by all daemons
 * (round robin); in-flight counts and loads are the ones in Redis.
 */
export function pickAgent(strategy: Strategy, agents: AgentSlot[], req: Requirements, turn: number): AgentSlot | undefined {
  if (agents.length === 0) return undefined
  switch (strategy) {
    case 'least_connections':
      return [...agents].sort(fewestInFlight)[0]
    case 'round_robin': {
      const sorted = [...agents].sort(byId)
      return sorted[turn % sorted.length]
    }
    case 'weighted_round_robin': {
      // Weights in tenths: an agent of weight 3 gets three turns in every cycle to one of weight 1.
      const sorted = [...agents].sort(byId)
      const tenths = sorted.map((a) => Math.max(1, Math.round(a.weight * 10)))
      let point = turn % tenths.reduce((s, w) => s + w, 0)
      for (const [i, a] of sorted.entries()) {
        if (point < tenths[i]!) return a
        point -= tenths[i]!
      }
      return sorted.at(-1)
    }
    case 'resource_based':
      return [...agents].sort((a, b) => a.load - b.load || a.in_flight - b.in_flight || byId(a, b))[0]
    case 'geographic': {
      const wanted = req.region
      if (wanted === undefined) return [...agents].sort(fewestInFlight)[0]
      const best = Math.max(...agents.map((a) => closeness(a.region, wanted)))
      return agents.filter((a) => closeness(a.region, wanted) === best).sort(fewestInFlight)[0]
    }
    case 'random':
      return agents[Math.floor(Math.random() * agents.length)]
  }
}
