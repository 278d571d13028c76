import type Router from '@koa/router'
import type { NodeView } from '../../../p2p/index.js'
import { ApiError } from '../../errors.js'
import { requireScope } from '../auth.js'

/** What the nodes route needs: the membership view and the name bindings. */
export interface NodeRouteDeps {
  nodes(): NodeView[]
  /** Refused claims and calls so far, by reason. */
  refusals(): Record<string, number>
  /** Removes a name's pin so the next peer to claim it is pinned (a rebuilt node). */
  forget(name: string): Promise<boolean>
}

const readScope = requireScope('read', 'agent', 'operate')
const adminScope = requireScope('admin')
const NODE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i

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
      identity_conflicts: nodes.flatMap((n) => (n.identity_conflict === null ? [] : [n.identity_conflict])),
      refusals: deps.refusals(),
      timestamp: new Date().toISOString(),
    }
  })
  router.delete('/nodes/:name/binding', adminScope, async (ctx) => {
    const name = ctx.params.name ?? ''
    if (!NODE_NAME.test(name)) throw new ApiError(422, 'VALIDATION_ERROR', 'name: expected 1-63 letters, digits, . _ -')
    const had = await deps.forget(name)
    ctx.body = {
      status: 'success',
      node: name,
      forgotten: had,
      message: had ? `${name} is no longer pinned; the next peer to claim it is pinned` : `${name} was not pinned (a configured peerId is changed in the config)`,
    }
  })
}
