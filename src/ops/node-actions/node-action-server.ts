import { anySignal } from 'any-signal'
import type { Logger } from 'pino'
import { type ActionRecord, opIdSchema, type OpRecord } from '../engine/op-types.js'
import type { ActionSlots } from './action-slots.js'
import { type ActionCaller, authorizeChange } from './authority.js'
import { isNodeAction, NODE_ACTIONS, type NodeActionName, type NodeActionParams, type NodeActionResult } from './contract.js'
import { NodeActionError } from './errors.js'

/** The one thing the server needs of a zod schema. */
interface Checker {
  safeParse(v: unknown): { success: boolean, data?: unknown, error?: { issues: { path: PropertyKey[], message: string }[] } }
}

/** The implementations, one per action of the contract. */
export type NodeActionHandlers = {
  [N in NodeActionName]: (params: NodeActionParams<N>, signal: AbortSignal) => Promise<NodeActionResult<N>>
}

export interface NodeActionServerInit {
  /** This node's name. */
  self: string
  handlers: NodeActionHandlers
  /** Whether an ops.actions entry needs force, from this node's own config (null: not configured here). */
  actionNeedsForce(action: string): boolean | null
  findOp(id: string): Promise<OpRecord | null>
  recordAction(opId: string, rec: ActionRecord): Promise<void>
  /** The cap shared by every caller (ops.maxConcurrent). */
  slots: ActionSlots
  /** The longest a read-only action may run, whatever the caller asks (ops.defaultTimeoutMs); it reads no journal. */
  readOnlyMaxMs: number
  log: Logger
  /** Called for every refused call (metrics). */
  onForbidden?(caller: ActionCaller, action: string, why: string): void
}

/**
 * Serves node actions to peers and to this node's own operations alike: the
 * contract's params, the serving node's authority rules, the cap on actions
 * at once, the deadline (work whose deadline passed never starts), a checked
 * result, and a journal entry for every changing action. The deadline is
 * this node's: a changing action's is its operation's as the journal records
 * it, a read-only action's is readOnlyMaxMs from its arrival; the caller's
 * own deadline can only make either earlier.
 */
export class NodeActionServer {
  constructor(private readonly init: NodeActionServerInit) {}

  async invoke(name: string, raw: unknown, caller: ActionCaller, deadlineAsked: number, signal: AbortSignal): Promise<unknown> {
    if (!isNodeAction(name)) throw new NodeActionError('ERR_ACTION_UNKNOWN', `no node action ${name}`)
    if (caller.opId !== null && !opIdSchema.safeParse(caller.opId).success) {
      throw new NodeActionError('ERR_ACTION_BAD_OP_ID', `op_id: expected an operation id (UUID) as the journal keeps them, got ${JSON.stringify(caller.opId.slice(0, 100))}`)
    }
    const spec = NODE_ACTIONS[name] as unknown as {
      params: Checker
      result: Checker
      changes(p: unknown): boolean
      force: 'never' | 'always' | 'per-action'
    }
    const parsed = spec.params.safeParse(raw)
    if (!parsed.success) {
      const issue = parsed.error?.issues[0]
      throw new NodeActionError('ERR_ACTION_BAD_PARAMS', `params.${issue?.path.join('.') ?? ''}: ${issue?.message}`)
    }
    const params = parsed.data
    const changes = spec.changes(params)
    let op: OpRecord | null = null
    if (changes) {
      try {
        op = await authorizeChange(name, params, caller, {
          self: this.init.self, needsForce: this.needsForce(name, spec.force, params), findOp: (id) => this.init.findOp(id),
        })
      } catch (err) {
        const why = (err as Error).message
        this.init.log.warn({ action: name, caller: caller.name, peerId: caller.peerId, op: caller.opId }, why)
        if ((err as NodeActionError).code === 'ERR_ACTION_FORBIDDEN') {
          this.init.onForbidden?.(caller, name, why)
          if (caller.opId !== null) this.record(name, caller, 'refused', why)
        }
        throw err
      }
    }
    const deadlineAt = Math.min(deadlineAsked, op === null ? Date.now() + this.init.readOnlyMaxMs : op.deadline_at)
    const what = `${name} for ${caller.name}`
    if (Date.now() >= deadlineAt || signal.aborted) throw new NodeActionError('ERR_ACTION_DEADLINE', `${what}: its deadline passed before it started; not started`)
    const release = await this.init.slots.acquire(deadlineAt, signal, what)
    try {
      if (Date.now() >= deadlineAt || signal.aborted) throw new NodeActionError('ERR_ACTION_DEADLINE', `${what}: its deadline passed before it started; not started`)
      const bounded = anySignal([signal, AbortSignal.timeout(Math.max(1, deadlineAt - Date.now()))])
      const handler = this.init.handlers[name] as (p: unknown, s: AbortSignal) => Promise<unknown>
      let result: unknown
      try {
        result = await handler(params, bounded)
      } catch (err) {
        if (op !== null) this.record(name, caller, 'failed', (err as Error).message)
        throw err
      } finally {
        bounded.clear()
      }
      const checked = spec.result.safeParse(result)
      if (!checked.success) {
        const issue = checked.error?.issues[0]
        throw new NodeActionError('ERR_ACTION_BAD_RESULT', `${name} answered off its contract at ${issue?.path.join('.')}: ${issue?.message}`)
      }
      if (op !== null) {
        const ok = (result as { ok?: boolean }).ok !== false
        this.record(name, caller, ok ? 'ok' : 'failed', summary(result))
      }
      return result
    } finally {
      release()
    }
  }

  private needsForce(name: NodeActionName, force: 'never' | 'always' | 'per-action', params: unknown): boolean {
    if (force !== 'per-action') return force === 'always'
    const action = (params as NodeActionParams<'node.action'>).name
    const needs = this.init.actionNeedsForce(action)
    if (needs === null) throw new NodeActionError('ERR_ACTION_FORBIDDEN', `${this.init.self} refused ${name}: ${action} is not in ops.actions on ${this.init.self}`)
    return needs
  }

  private record(action: string, caller: ActionCaller, outcome: ActionRecord['outcome'], detail: string): void {
    const rec: ActionRecord = {
      at: new Date().toISOString(), node: this.init.self, action, caller: caller.name, peer_id: caller.peerId, op_id: caller.opId ?? '', outcome, detail: detail.slice(0, 500),
    }
    this.init.log.info(rec, `${action} for ${caller.name} (operation ${rec.op_id}): ${outcome}`)
    this.init.recordAction(rec.op_id, rec).catch((err: unknown) => this.init.log.warn({ err, op: rec.op_id }, 'could not journal a node action'))
  }
}

function summary(result: unknown): string {
  const r = result as { output?: unknown, state?: unknown, detail?: unknown, backup?: unknown }
  if (typeof r.output === 'string') return r.output.slice(-300)
  if (typeof r.state === 'string') return `${r.state}: ${String(r.detail ?? '')}`
  if ('backup' in r) return `written; backup ${String(r.backup)}`
  return 'done'
}
