import type Router from '@koa/router'
import { agentId, discoverBody, heartbeatBody, registerBody, statusBody } from '../../registry/agent.js'
import type { AgentRegistry } from '../../store/agent-registry.js'
import { requireScope } from '../auth.js'
import { readJson, validate } from '../body.js'

/** What the agent routes need. */
export interface AgentRouteDeps {
  registry: AgentRegistry
  bodyLimitBytes: number
  /** agents.staleAfterMs, told to agents at registration so they heartbeat in time. */
  staleAfterMs?: number
}

const anyScope = requireScope('read', 'agent', 'operate')
const agentScope = requireScope('agent')

/** The seed 001 agent routes: register, discover, get, delete, heartbeat, status. */
export function agentRoutes(router: Router, deps: AgentRouteDeps): void {
  const { registry, bodyLimitBytes } = deps
  const idParam = (raw: string | undefined): string => validate(agentId, raw, 'agent_id')

  router.post('/agents/register', agentScope, async (ctx) => {
    const input = validate(registerBody, await readJson(ctx, bodyLimitBytes))
    const { registeredAt } = await registry.register(input)
    ctx.body = {
      status: 'success',
      message: `Agent ${input.agent_id} registered successfully`,
      agent_id: input.agent_id,
      registered_at: registeredAt,
      // An agent unheard for this long is stale and gets no tasks: heartbeat well within it.
      ...(deps.staleAfterMs === undefined ? {} : { stale_after_ms: deps.staleAfterMs }),
    }
  })

  router.post('/agents/discover', anyScope, async (ctx) => {
    const query = validate(discoverBody, (await readJson(ctx, bodyLimitBytes)) ?? {})
    // The agents' JSON is made once per revision of each (see AgentRegistry.discoverJson).
    const { count, parts } = await registry.discoverJson(query)
    ctx.type = 'application/json'
    // One buffer, copied once from the pieces: Koa and Node write it as it is.
    ctx.body = Buffer.concat([
      Buffer.from(`{"status":"success","query":${JSON.stringify(query)},"agents":`),
      ...parts,
      Buffer.from(`,"count":${count},"timestamp":"${new Date().toISOString()}"}`),
    ])
  })

  router.get('/agents/:id', anyScope, async (ctx) => {
    ctx.body = { status: 'success', agent: await registry.get(idParam(ctx.params.id)) }
  })

  router.delete('/agents/:id', agentScope, async (ctx) => {
    const id = idParam(ctx.params.id)
    await registry.remove(id)
    ctx.body = { status: 'success', message: `Agent ${id} removed`, agent_id: id }
  })

  router.post('/agents/:id/heartbeat', agentScope, async (ctx) => {
    const id = idParam(ctx.params.id)
    const body = validate(heartbeatBody, await readJson(ctx, bodyLimitBytes))
    const status = await registry.heartbeat(id, body.load_metrics)
    ctx.body = { status: 'success', agent_id: id, agent_status: status, timestamp: new Date().toISOString() }
  })

  router.put('/agents/:id/status', agentScope, async (ctx) => {
    const id = idParam(ctx.params.id)
    const body = validate(statusBody, await readJson(ctx, bodyLimitBytes))
    const status = await registry.setStatus(id, body.status, body.load_metrics)
    ctx.body = { status: 'success', agent_id: id, agent_status: status, timestamp: new Date().toISOString() }
  })
}
