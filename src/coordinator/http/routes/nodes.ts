import { z } from 'zod'
import type { NodeView } from '../../../p2p/index.js'
import { ValidationError } from '../../errors.js'
import type { Route } from '../route-table.js'
import { success, time } from './answers.js'
import { nodeStatusLine } from './ops.js'

/** What the nodes route needs: the membership view and the name bindings. */
export interface NodeRouteDeps {
  nodes(): NodeView[]
  /** Refused claims and calls so far, by reason. */
  refusals(): Record<string, number>
  /** Removes a name's pin so the next peer to claim it is pinned (a rebuilt node). */
  forget(name: string): Promise<boolean>
}

const NODE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i
const nodeRow = nodeStatusLine.extend({
  peer_id: z.string().nullable(),
  identity: z.enum(['configured', 'pinned']).nullable(),
  identity_conflict: z.string().nullable(),
  address: z.string().nullable(),
  links: z.array(z.string()).nullable().describe('members the node is connected to, as it last said'),
  last_seen_ms: z.number().nullable(),
  reason: z.string().nullable(),
  registry_mismatch: z.string().nullable(),
  self: z.boolean(),
})
const tag = 'nodes'

/** GET /nodes: every configured and discovered node with its gossiped status (seed 000's nodes_status); DELETE a name's pin. */
export function nodeRoutes(): Route<NodeRouteDeps>[] {
  return [
    {
      method: 'get', path: '/nodes', tag, summary: 'The membership view (seed 000 nodes_status)', scopes: ['read', 'agent', 'operate'], errors: [],
      ok: {
        200: {
          description: 'every node',
          schema: z.looseObject({
            status: success,
            nodes_status: z.record(z.string(), nodeRow),
            summary: z.looseObject({ total: z.number(), online: z.number(), degraded: z.number(), offline: z.number() }),
            registry_mismatches: z.array(z.string()),
            identity_conflicts: z.array(z.string()),
            refusals: z.record(z.string(), z.number()),
            timestamp: time,
          }),
        },
      },
      handle: (ctx, deps) => {
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
      },
    },
    {
      method: 'delete', path: '/nodes/{name}/binding', tag, summary: 'Unpin a node name from its peer id (a rebuilt node)', scopes: ['admin'],
      params: z.strictObject({ name: z.string().regex(NODE_NAME) }), errors: [],
      ok: { 200: { description: 'unpinned', schema: z.looseObject({ status: success, node: z.string(), forgotten: z.boolean(), message: z.string() }) } },
      handle: async (ctx, deps) => {
        const name = ctx.params.name ?? ''
        if (!NODE_NAME.test(name)) throw new ValidationError('name: expected 1-63 letters, digits, . _ -')
        const had = await deps.forget(name)
        ctx.body = {
          status: 'success',
          node: name,
          forgotten: had,
          message: had ? `${name} is no longer pinned; the next peer to claim it is pinned` : `${name} was not pinned (a configured peerId is changed in the config)`,
        }
      },
    },
  ]
}
