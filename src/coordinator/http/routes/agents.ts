import { z } from 'zod'
import { AGENT_STATUSES, agentId, CIRCUIT_STATES, discoverBody, heartbeatBody, registerBody, statusBody } from '../../registry/agent.js'
import type { AgentRegistry } from '../../store/agent-registry.js'
import { readJson, validate } from '../body.js'
import type { Route } from '../route-table.js'
import { object, success, time } from './answers.js'

/** What the agent routes need. */
export interface AgentRouteDeps {
  registry: AgentRegistry
  bodyLimitBytes: number
  /** agents.staleAfterMs, told to agents at registration so they heartbeat in time. */
  staleAfterMs?: number | undefined
}

/** An agent as the API shows it. */
export const agentAnswer = z.looseObject({
  agent_id: z.string(),
  agent_type: z.string(),
  capabilities: z.array(z.string()),
  services: z.array(z.string()),
  endpoints: object,
  metadata: object,
  status: z.enum(AGENT_STATUSES),
  health_score: z.number(),
  load_metrics: object,
  load: z.number().describe('0-100, the mean of cpu and memory from the last heartbeat'),
  in_flight: z.number().describe('tasks assigned and not yet reported'),
  registered_at: time,
  last_heartbeat: time,
  updated_at: time,
  circuit: z.looseObject({
    state: z.enum(CIRCUIT_STATES).describe('closed: tasks are pushed to it; open: left out after pushes that never reached it; half_open: one push is trying it'),
    failures: z.number().describe('pushes in a row that never reached it'),
    since: time.nullable(),
    next_probe_at: time.nullable(),
    last_error: z.string().nullable(),
  }).describe('push delivery to endpoints.http (tasks.pushCircuit)'),
})

const read = ['read', 'agent', 'operate'] as const
const params = z.strictObject({ id: agentId })
const idParam = (raw: string | undefined): string => validate(agentId, raw, 'agent_id')
const agentStatusAnswer = z.looseObject({
  status: success, agent_id: z.string(), agent_status: z.enum(AGENT_STATUSES), timestamp: time,
})
const tag = 'agents'
// Every agent route reads or writes the registry in Redis.
const REDIS = 'REDIS_UNAVAILABLE'

/** The seed 001 agent routes: register, discover, get, delete, heartbeat, status. */
export function agentRoutes(): Route<AgentRouteDeps>[] {
  return [
    {
      method: 'post', path: '/agents/register', tag, summary: 'Register or update an agent (seed 001)', scopes: ['agent'], body: registerBody, errors: [REDIS],
      ok: { 200: { description: 'registered', schema: z.looseObject({ status: success, message: z.string(), agent_id: z.string(), registered_at: time, stale_after_ms: z.number().optional() }) } },
      example: {
        agent_id: 'hermes-agent', agent_type: 'worker', capabilities: ['data-processing', 'analysis', 'general'], services: ['task-execution', 'analysis'],
        endpoints: { http: 'http://localhost:9002' }, metadata: { version: '1.0.0' },
      },
      handle: async (ctx, deps) => {
        const input = validate(registerBody, await readJson(ctx, deps.bodyLimitBytes))
        const { registeredAt } = await deps.registry.register(input)
        ctx.body = {
          status: 'success',
          message: `Agent ${input.agent_id} registered successfully`,
          agent_id: input.agent_id,
          registered_at: registeredAt,
          // An agent unheard for this long is stale and gets no tasks: heartbeat well within it.
          ...(deps.staleAfterMs === undefined ? {} : { stale_after_ms: deps.staleAfterMs }),
        }
      },
    },
    {
      method: 'post', path: '/agents/discover', tag, summary: 'Find agents, healthiest first', scopes: read, body: discoverBody, errors: [REDIS],
      ok: { 200: { description: 'matching agents', schema: z.looseObject({ status: success, query: object, agents: z.array(agentAnswer), count: z.number(), timestamp: time }) } },
      example: { status: 'active', agent_type: 'worker' },
      handle: async (ctx, deps) => {
        const query = validate(discoverBody, (await readJson(ctx, deps.bodyLimitBytes)) ?? {})
        // The agents' JSON is made once per revision of each (see AgentRegistry.discoverJson).
        const { count, parts } = await deps.registry.discoverJson(query)
        ctx.type = 'application/json'
        // One buffer, copied once from the pieces: Koa and Node write it as it is.
        ctx.body = Buffer.concat([
          Buffer.from(`{"status":"success","query":${JSON.stringify(query)},"agents":`),
          ...parts,
          Buffer.from(`,"count":${count},"timestamp":"${new Date().toISOString()}"}`),
        ])
      },
    },
    {
      method: 'get', path: '/agents/{id}', tag, summary: 'One agent', scopes: read, params, errors: ['AGENT_NOT_FOUND', REDIS],
      ok: { 200: { description: 'the agent', schema: z.looseObject({ status: success, agent: agentAnswer }) } },
      handle: async (ctx, deps) => {
        ctx.body = { status: 'success', agent: await deps.registry.get(idParam(ctx.params.id)) }
      },
    },
    {
      method: 'delete', path: '/agents/{id}', tag, summary: 'Remove an agent', scopes: ['agent'], params, errors: ['AGENT_NOT_FOUND', REDIS],
      ok: { 200: { description: 'removed', schema: z.looseObject({ status: success, message: z.string(), agent_id: z.string() }) } },
      handle: async (ctx, deps) => {
        const id = idParam(ctx.params.id)
        await deps.registry.remove(id)
        ctx.body = { status: 'success', message: `Agent ${id} removed`, agent_id: id }
      },
    },
    {
      method: 'post', path: '/agents/{id}/heartbeat', tag, summary: 'Heartbeat with load metrics (a stale agent becomes active)', scopes: ['agent'], params, body: heartbeatBody,
      errors: ['AGENT_NOT_FOUND', REDIS], ok: { 200: { description: 'heard', schema: agentStatusAnswer } },
      example: { load_metrics: { cpu_usage: 40, memory_usage: 55, active_tasks: 2 } },
      handle: async (ctx, deps) => {
        const id = idParam(ctx.params.id)
        const body = validate(heartbeatBody, await readJson(ctx, deps.bodyLimitBytes))
        const status = await deps.registry.heartbeat(id, body.load_metrics)
        ctx.body = { status: 'success', agent_id: id, agent_status: status, timestamp: new Date().toISOString() }
      },
    },
    {
      method: 'put', path: '/agents/{id}/status', tag, summary: 'Set an agent\'s status (the guide\'s update-status)', scopes: ['agent'], params, body: statusBody,
      errors: ['AGENT_NOT_FOUND', REDIS], ok: { 200: { description: 'set', schema: agentStatusAnswer } }, example: { status: 'maintenance' },
      handle: async (ctx, deps) => {
        const id = idParam(ctx.params.id)
        const body = validate(statusBody, await readJson(ctx, deps.bodyLimitBytes))
        const status = await deps.registry.setStatus(id, body.status, body.load_metrics)
        ctx.body = { status: 'success', agent_id: id, agent_status: status, timestamp: new Date().toISOString() }
      },
    },
  ]
}
