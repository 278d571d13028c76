import type { Command } from 'commander'
import { callApi } from '../api-client.js'
import { commaList, jsonObject } from '../arguments.js'
import { print, type TargetOf } from '../output.js'
import { table } from '../table.js'

interface Agentish {
  agent_id: string
  agent_type: string
  status: string
  health_score: number
  capabilities: string[]
  last_heartbeat: string
  circuit?: { state: string, failures: number }
}

const ENDPOINTS_EXAMPLE = '{"http":"http://host:9002"}'
const jsonFlag = (name: string, v: string | undefined) => jsonObject(name, v, ENDPOINTS_EXAMPLE)

/** closed, or the state and the pushes in a row that never reached it ("open (3 failed)"). */
function circuitCell(c: Agentish['circuit']): string {
  if (c === undefined) return '-'
  return c.state === 'closed' && c.failures === 0 ? 'closed' : `${c.state} (${c.failures} failed)`
}

/** Agents as `agents list` shows them. */
export function agentRows(agents: Agentish[]): string {
  return table(
    ['AGENT', 'TYPE', 'STATUS', 'HEALTH', 'CIRCUIT', 'CAPABILITIES', 'LAST HEARTBEAT'],
    agents.map((a) => [
      a.agent_id,
      a.agent_type,
      a.status,
      a.health_score.toFixed(2),
      circuitCell(a.circuit),
      a.capabilities.join(','),
      a.last_heartbeat,
    ]),
  )
}

/**
 * `aitbc-node agents register|list|status|update-status|remove`, the operator
 * guide's verbs, also spelled as the guide does: `agent sdk register ...
 * --coordinator-url URL`.
 */
export function agentCommands(program: Command, target: TargetOf): Command {
  addAgentVerbs(program.command('agents').description('register, list and manage agents through a daemon'), target)
  const agent = program.command('agent').description('run an agent (agent run), or the operator guide\'s agent sdk verbs')
  addAgentVerbs(agent.command('sdk').description('the operator guide\'s spelling of the agents verbs (--coordinator-url for --url)'), target)
  return agent
}

function addAgentVerbs(parent: Command, base: TargetOf): void {
  const target: TargetOf = (cmd) => {
    const t = base(cmd)
    const url = (cmd.opts() as { coordinatorUrl?: string }).coordinatorUrl
    return url === undefined ? t : { ...t, url }
  }
  const agents = {
    command: (name: string) => parent.command(name).option('--coordinator-url <url>', 'daemon API URL (the same as --url)'),
  }

  agents
    .command('register')
    .description('register an agent (re-registering updates it)')
    .requiredOption('--agent-id <id>', 'agent id')
    .requiredOption('--type <type>', 'agent type, e.g. worker')
    .option('--capabilities <list>', 'comma-separated capabilities', commaList, [])
    .option('--services <list>', 'comma-separated services', commaList, [])
    .option('--endpoints <json>', 'endpoints as JSON, e.g. {"http":"http://host:9002"}')
    .option('--metadata <json>', 'metadata as JSON')
    .action(async (o, cmd: Command) => {
      const t = target(cmd)
      const body = {
        agent_id: o.agentId,
        agent_type: o.type,
        capabilities: o.capabilities,
        services: o.services,
        endpoints: jsonFlag('endpoints', o.endpoints) ?? {},
        metadata: jsonFlag('metadata', o.metadata) ?? {},
      }
      const res = await callApi(t, 'POST', '/agents/register', body)
      print(t, res, () => `${res.message} (registered at ${res.registered_at})`)
    })

  agents
    .command('list')
    .description('list agents, healthiest first')
    .option('--status <status>', 'only agents with this status')
    .option('--type <type>', 'only agents of this type')
    .option('--capabilities <list>', 'only agents with all of these capabilities', commaList)
    .option('--limit <n>', 'at most this many', (v) => Number(v), 100)
    .action(async (o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'POST', '/agents/discover', {
        status: o.status,
        agent_type: o.type,
        capabilities: o.capabilities,
        limit: o.limit,
      })
      print(t, res, () => `${agentRows(res.agents as Agentish[])}\nFound ${res.count} agents`)
    })

  agents
    .command('status')
    .description('show one agent\'s record')
    .requiredOption('--agent-id <id>', 'agent id')
    .action(async (o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'GET', `/agents/${encodeURIComponent(o.agentId)}`)
      const a = res.agent as Record<string, unknown>
      print(t, res, () =>
        Object.entries(a)
          .map(([k, v]) => `${k.padEnd(16)} ${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join('\n'),
      )
    })

  agents
    .command('update-status')
    .description('set an agent\'s status (active, inactive, busy, maintenance, error)')
    .requiredOption('--agent-id <id>', 'agent id')
    .requiredOption('--status <status>', 'new status')
    .option('--load-metrics <json>', 'load metrics as JSON, e.g. {"cpu_usage":40}')
    .action(async (o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'PUT', `/agents/${encodeURIComponent(o.agentId)}/status`, {
        status: o.status,
        load_metrics: jsonFlag('load-metrics', o.loadMetrics),
      })
      print(t, res, () => `agent ${o.agentId} is now ${res.agent_status}`)
    })

  agents
    .command('remove')
    .description('remove an agent from the registry')
    .requiredOption('--agent-id <id>', 'agent id')
    .action(async (o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'DELETE', `/agents/${encodeURIComponent(o.agentId)}`)
      print(t, res, () => String(res.message))
    })
}
