import type { Command } from 'commander'
import type { NodeView } from '../../p2p/index.js'
import { callApi } from '../api-client.js'
import { print, type TargetOf } from '../output.js'
import { dash, table } from '../table.js'

function age(ms: number | null): string {
  if (ms === null) return 'never'
  if (ms < 1000) return `${ms}ms`
  return `${(ms / 1000).toFixed(1)}s`
}

/** The mesh as `nodes` shows it: one row per node, this daemon's marked *. */
export function nodesTable(nodes: NodeView[]): string {
  const rows = nodes.map((n) => [
    `${n.name}${n.self ? ' *' : ''}`,
    n.status,
    dash(n.block_height),
    dash(n.mempool_size),
    dash(n.p2p_connections),
    dash(n.service_uptime),
    age(n.last_seen_ms),
    dash(n.version),
    n.peer_id === null ? '-' : `${n.peer_id.slice(0, 8)}..${n.peer_id.slice(-6)}`,
    n.registry_mismatch === null ? dash(n.reason) : `REGISTRY MISMATCH: ${n.registry_mismatch}`,
  ])
  return table(['NODE', 'STATUS', 'HEIGHT', 'MEMPOOL', 'PEERS', 'UPTIME', 'LAST SEEN', 'VERSION', 'PEER ID', 'NOTE'], rows)
}

/** `aitbc-node nodes`, `aitbc-node nodes forget`. */
export function nodesCommands(program: Command, target: TargetOf): void {
  const nodes = program
    .command('nodes')
    .description('show every node of the mesh as this daemon sees it')
    .action(async (_o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'GET', '/nodes')
      const rows = Object.values(res.nodes_status as Record<string, NodeView>)
      print(t, res, () => [nodesTable(rows), ...(res.identity_conflicts as string[]).map((c) => `identity conflict: ${c}`)].join('\n'))
    })
  nodes
    .command('forget')
    .description('unpin a node name from its peer id (admin), e.g. after the node was rebuilt with a new key; the next claim pins it again')
    .argument('<name>', 'the node name')
    .action(async (name: string, _o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'DELETE', `/nodes/${encodeURIComponent(name)}/binding`)
      print(t, res, () => String(res.message))
    })
}
