import type Router from '@koa/router'
import type { NodeView } from '../../../p2p/index.js'
import { requireScope } from '../auth.js'

/** What the nodes route needs: the membership view. */
export interface NodeRouteDeps {
  nodes(): NodeView[]
}

const readScope = requireScope('read', 'agent', 'operate')

/** GET /nodes: every configured and discovered node with its gossiped status (seed 000's nodes_status). */
export function nodeRoutes(router: Router, deps: NodeRouteDeps): void {
  router.get('/nodes', readScope, (ctx) => {
    const nodes = deps.nodes()
    const nodesStatus: Record<string, NodeView> = {}
    for (const n of nodes) nodesStatus[n.name] = n
    const count = (s: NodeView['status']): number => nodes.filter((n) => n.status === s).length
    ctx.body = {
      status: 'success',
      nodes_status: nodesStatus,
      summary: { total: nodes.length, online: count('online'), degraded: count('degraded'), offline: count('offline') },
      registry_mismatches: nodes.flatMap((n) => (n.registry_mismatch === null ? [] : [n.registry_mismatch])),
      timestamp: new Date().toISOString(),
    }
  })
}
