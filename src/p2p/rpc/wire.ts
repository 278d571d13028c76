import { z } from 'zod'

/** Direct request/response protocol used by operations. */
export const RPC_PROTOCOL = '/aitbc/rpc/1.0.0'

/** Largest RPC frame accepted on the wire. */
export const MAX_RPC_FRAME_BYTES = 1024 * 1024

export const rpcRequest = z.strictObject({
  t: z.literal('req'),
  method: z.string().min(1).max(100),
  params: z.json(),
  /** How long the caller will wait, so the callee can give up at the same time. */
  deadline_ms: z.number().int().min(1).max(600_000),
  /** The operation this call belongs to; a changing action is refused without one the callee finds in the journal. */
  op_id: z.string().min(1).max(100).nullable().optional(),
})
export type RpcRequest = z.infer<typeof rpcRequest>

export const rpcResponse = z.discriminatedUnion('ok', [
  z.strictObject({ t: z.literal('res'), ok: z.literal(true), result: z.json() }),
  z.strictObject({
    t: z.literal('res'),
    ok: z.literal(false),
    error: z.strictObject({ code: z.string().max(100), message: z.string().max(2000) }),
  }),
])
export type RpcResponse = z.infer<typeof rpcResponse>
