import { z } from 'zod'
import type { OpRequest } from '../engine/op-types.js'

const chain = z.strictObject({
  height: z.number().int().min(0),
  hash: z.string().max(200).nullable(),
  mempool_size: z.number().int().min(0).nullable(),
})

export const liveStatusSchema = z.strictObject({
  node: z.string().max(63),
  version: z.string().max(50),
  uptime_s: z.number().min(0),
  chain: chain.nullable(),
  chain_error: z.string().max(2000).nullable(),
  last_sync: z.number().int().nullable(),
  git_head: z.string().max(300).nullable(),
  p2p_connections: z.number().int().min(0),
  /** The node's clock (ms since the epoch) when it answered, for skew checks. */
  time: z.number(),
})

export const liveHealthSchema = liveStatusSchema.extend({
  redis: z.strictObject({
    ok: z.boolean(),
    aof_enabled: z.boolean().nullable(),
    maxmemory_policy: z.string().max(100).nullable(),
    error: z.string().max(2000).nullable(),
  }),
  registry_cluster_id: z.string().max(100).nullable(),
  disk: z.strictObject({ path: z.string().max(4096), free_bytes: z.number(), total_bytes: z.number() }).nullable(),
  problems: z.array(z.string().max(2000)).max(100),
})

export const gitSyncSchema = z.strictObject({
  state: z.enum(['up-to-date', 'fast-forwarded', 'ahead', 'conflict', 'not-configured']),
  head: z.string().max(300).nullable(),
  detail: z.string().max(2000),
})

export const chainAnswerSchema = z.strictObject({
  height: z.number().int().min(0).nullable(),
  hash: z.string().max(200).nullable(),
  mempool_size: z.number().int().min(0).nullable(),
  error: z.string().max(2000).nullable(),
})

const commandOutcome = z.strictObject({ ok: z.boolean(), output: z.string().max(8000) })
const actionOutcome = commandOutcome.extend({ exit_code: z.number().int().nullable() })
const fileName = z.string().min(1).max(255)

/** One node-local action: what it takes, what it answers, and what it may do to the node. */
interface ActionSpec<P extends z.ZodType, R extends z.ZodType> {
  params: P
  result: R
  /** Whether these params change the node (then the call needs an operation the serving node finds in the journal). */
  changes(params: z.output<P>): boolean
  /** Whether seed 000 requires force ('per-action': the serving node's ops.actions entry decides). */
  force: 'never' | 'always' | 'per-action'
  /** Whether an operation of this request may make this (changing) call. */
  partOf(req: OpRequest, params: z.output<P>): boolean
}

const spec = <P extends z.ZodType, R extends z.ZodType>(s: ActionSpec<P, R>): ActionSpec<P, R> => s
const syncs = (req: OpRequest, kind: string): boolean =>
  req.operation === 'sync' && (req.sync_type === undefined || req.sync_type === 'all' || req.sync_type === kind)

/**
 * The node-local actions peers may ask of a node (the RPC methods of the
 * ops module), in one place: the serving node enforces this, the caller
 * checks answers against it. Seed 000: never restart a service or change a
 * config without force.
 */
export const NODE_ACTIONS = {
  'node.status': spec({ params: z.null(), result: liveStatusSchema, changes: () => false, force: 'never', partOf: () => true }),
  'node.health': spec({ params: z.null(), result: liveHealthSchema, changes: () => false, force: 'never', partOf: () => true }),
  'node.chain': spec({ params: z.null(), result: chainAnswerSchema, changes: () => false, force: 'never', partOf: () => true }),
  'node.git.sync': spec({
    params: z.strictObject({ apply: z.boolean() }),
    result: gitSyncSchema,
    // Even a check runs `git fetch` (the network, the repository's disk): only inside an operation.
    changes: () => true,
    force: 'never',
    // A forced sync of any kind checks each node's git (apply: false) before it changes the node (seed 000).
    partOf: (req, p) => syncs(req, 'git') || (!p.apply && req.force && req.operation === 'sync'),
  }),
  'node.service': spec({
    // Only the chain service, and only these verbs: never a free command line.
    params: z.strictObject({ verb: z.enum(['restart', 'start', 'is-active']) }),
    result: commandOutcome,
    changes: (p) => p.verb !== 'is-active',
    force: 'always',
    partOf: (req) => syncs(req, 'blockchain'),
  }),
  'node.config.digests': spec({
    params: z.null(),
    result: z.strictObject({
      files: z.record(z.string(), z.string().max(100).nullable()),
      registry: z.string().max(100).nullable(),
    }),
    changes: () => false,
    force: 'never',
    partOf: () => true,
  }),
  'node.config.read': spec({
    params: z.strictObject({ name: fileName }),
    result: z.strictObject({ content_b64: z.string() }),
    // Reading changes nothing, but it hands out a whole file: only inside a forced configuration sync.
    changes: () => true,
    force: 'always',
    partOf: (req) => syncs(req, 'configuration'),
  }),
  'node.config.write': spec({
    params: z.strictObject({ name: fileName, content_b64: z.string().max(8 * 1024 * 1024) }),
    result: z.strictObject({ backup: z.string().max(4096).nullable() }),
    changes: () => true,
    force: 'always',
    partOf: (req) => syncs(req, 'configuration'),
  }),
  'node.action': spec({
    params: z.strictObject({ name: z.string().min(1).max(100) }),
    result: actionOutcome,
    changes: () => true,
    force: 'per-action',
    partOf: (req, p) => req.operation === 'coordinate' && req.action === p.name,
  }),
} as const

export type NodeActionName = keyof typeof NODE_ACTIONS
export type NodeActionParams<N extends NodeActionName> = z.output<(typeof NODE_ACTIONS)[N]['params']>
export type NodeActionResult<N extends NodeActionName> = z.output<(typeof NODE_ACTIONS)[N]['result']>
export type LiveStatus = z.output<typeof liveStatusSchema>
export type LiveHealth = z.output<typeof liveHealthSchema>
export type ChainAnswer = z.output<typeof chainAnswerSchema>

export function isNodeAction(name: string): name is NodeActionName {
  return Object.hasOwn(NODE_ACTIONS, name)
}
