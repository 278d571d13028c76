import type { OpRecord } from '../engine/op-types.js'
import { NODE_ACTIONS, type NodeActionName } from './contract.js'
import { NodeActionError } from './errors.js'

/** Who is asking, as the serving node knows it: never taken from the request body. */
export interface ActionCaller {
  /** The caller's bound node name (this node's own name for its own operations). */
  name: string
  /** The caller's authenticated peer id. */
  peerId: string
  /** The operation the caller says the call belongs to. */
  opId: string | null
}

/**
 * The serving node's rule for a changing action: it must belong to a live
 * operation in the shared journal that the caller itself started, that
 * targets this node, that is of a kind this action is part of, and that was
 * started with force where seed 000 wants it. Throws ERR_ACTION_FORBIDDEN
 * naming what is missing, ERR_ACTION_DEADLINE when the operation's deadline
 * has passed.
 */
export async function authorizeChange(
  name: NodeActionName,
  params: unknown,
  caller: ActionCaller,
  ctx: { self: string, needsForce: boolean, findOp(id: string): Promise<OpRecord | null> },
): Promise<OpRecord> {
  const refuse = (why: string): never => {
    throw new NodeActionError('ERR_ACTION_FORBIDDEN', `${ctx.self} refused ${name} from ${caller.name}: ${why}`)
  }
  if (caller.opId === null) return refuse('a changing action runs only as part of an operation, and no operation id came with the call')
  const rec = await ctx.findOp(caller.opId)
  if (rec === null) return refuse(`operation ${caller.opId} is not in the journal`)
  if (rec.node !== caller.name) return refuse(`operation ${rec.op_id} was started by ${rec.node}, not by ${caller.name}`)
  if (rec.state !== 'running' && rec.state !== 'queued') return refuse(`operation ${rec.op_id} is ${rec.state}`)
  if (Date.now() >= rec.deadline_at) {
    throw new NodeActionError('ERR_ACTION_DEADLINE', `${ctx.self} did not start ${name} for ${caller.name}: operation ${rec.op_id} is past its deadline`)
  }
  const target = rec.request.target_node
  if (target !== 'all' && target !== ctx.self) return refuse(`operation ${rec.op_id} targets ${target}, not ${ctx.self}`)
  const spec = NODE_ACTIONS[name] as { partOf(req: OpRecord['request'], p: unknown): boolean }
  if (!spec.partOf(rec.request, params)) {
    return refuse(`${name} is not part of a ${rec.request.operation}${rec.request.sync_type === undefined ? '' : ` ${rec.request.sync_type}`} operation`)
  }
  if (ctx.needsForce && !rec.request.force) return refuse(`${name} needs force (seed 000: never restart a service or change a node without force)`)
  return rec
}
