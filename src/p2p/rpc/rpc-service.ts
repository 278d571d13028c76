import { setMaxListeners } from 'node:events'
import type { Connection, Stream } from '@libp2p/interface'
import { anySignal } from 'any-signal'
import type { Logger } from 'pino'
import type { z } from 'zod'
import { dialNode, type PeerDirectory } from '../dial-node.js'
import { P2pError } from '../errors.js'
import { frameChannel, type StalledStream } from '../frames.js'
import type { MeshLibp2p } from '../mesh-node.js'
import { MAX_RPC_FRAME_BYTES, RPC_PROTOCOL, type RpcResponse, rpcRequest, rpcResponse } from './wire.js'

/** What a handler learns about the call besides its params. */
export interface RpcCallContext {
  /** Aborted when the caller's deadline passes, the caller hangs up (its stream resets or ends in error) or the daemon stops. */
  signal: AbortSignal
  /** Peer id of the caller (authenticated by the connection). */
  peer: string
  /** The caller's bound node name: who is asking, never a field of the frame. */
  caller: string
  /** The operation the caller says the call belongs to; the callee checks it (see src/ops/node-actions). */
  opId: string | null
  /** ms since the epoch by which the caller stops waiting. */
  deadlineAt: number
}

/** A registered method: its params schema and the handler that answers it. */
export interface RpcMethod<S extends z.ZodType, R> {
  params: S
  handler(params: z.output<S>, ctx: RpcCallContext): Promise<R>
}

/** An RPC failure; remote errors keep the remote code. */
export class RpcError extends P2pError {
  constructor(code: string, message: string, readonly node: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'RpcError'
  }
}

/** Concurrent inbound RPC streams per connection. */
export const DEFAULT_MAX_INBOUND_RPC_STREAMS = 32

export interface RpcServiceInit {
  node: MeshLibp2p
  directory: PeerDirectory
  log: Logger
  /** Concurrent inbound RPC streams per connection (default DEFAULT_MAX_INBOUND_RPC_STREAMS). */
  maxInboundStreams?: number
  /** Called when a peer that is no cluster member opens a call (it gets nothing). */
  onUnknownPeer?(peerId: string): void
  /** Each call cut off because its peer stopped reading. */
  onStalled?(s: StalledStream): void
}

/**
 * Typed request/response between daemons: one stream per call, one frame each
 * way, a deadline the callee also honours. A bad frame fails that call only.
 */
export class RpcService {
  private readonly methods = new Map<string, RpcMethod<z.ZodType, unknown>>()
  private readonly stopping = new AbortController()
  private started = false

  constructor(private readonly init: RpcServiceInit) {
    // Each call served (up to maxInboundStreams at once) listens on it: no leak warning past ten.
    setMaxListeners(Infinity, this.stopping.signal)
  }

  /** Makes a method callable by peers. */
  register<S extends z.ZodType, R>(name: string, method: RpcMethod<S, R>): void {
    this.methods.set(name, method as unknown as RpcMethod<z.ZodType, unknown>)
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    await this.init.node.handle(RPC_PROTOCOL, (stream, connection) => this.serve(stream, connection), {
      maxInboundStreams: this.init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_RPC_STREAMS,
    })
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.stopping.abort()
    await this.init.node.unhandle(RPC_PROTOCOL).catch(() => {})
  }

  /** Calls a method on a node by name; rejects with RpcError naming the node and what failed. */
  async call(
    nodeName: string,
    method: string,
    params: unknown,
    opts: { timeoutMs: number, signal?: AbortSignal, opId?: string | null },
  ): Promise<unknown> {
    const deadline = AbortSignal.timeout(opts.timeoutMs)
    const signal = anySignal([deadline, opts.signal])
    const started = Date.now()
    let stream
    try {
      stream = await dialNode(this.init.node, this.init.directory, nodeName, RPC_PROTOCOL, signal)
    } catch (err) {
      if (signal.aborted) {
        throw new RpcError('ERR_RPC_TIMEOUT', `node ${nodeName} could not be reached within ${Date.now() - started} ms`, nodeName, { cause: err })
      }
      throw new RpcError('ERR_PEER_UNREACHABLE', (err as Error).message, nodeName, { cause: err })
    }
    const channel = frameChannel(stream, rpcResponse, {
      maxFrameBytes: MAX_RPC_FRAME_BYTES,
      peer: this.init.directory.peerIdOf(nodeName) ?? nodeName,
      onStalled: this.init.onStalled,
    })
    const onAbort = (): void => stream.abort(new RpcError('ERR_RPC_TIMEOUT', 'deadline passed', nodeName))
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const remaining = opts.timeoutMs - (Date.now() - started)
      channel.send({ t: 'req', method, params, deadline_ms: Math.max(1, Math.min(600_000, remaining)), op_id: opts.opId ?? null })
      channel.end()
      for await (const res of channel.frames()) return unwrap(res, nodeName)
      throw new RpcError('ERR_RPC_NO_ANSWER', `node ${nodeName} closed the call without an answer`, nodeName)
    } catch (err) {
      if (err instanceof RpcError) throw err
      if (signal.aborted) {
        throw new RpcError('ERR_RPC_TIMEOUT', `node ${nodeName} did not answer ${method} within ${Date.now() - started} ms`, nodeName)
      }
      throw new RpcError('ERR_RPC_FAILED', `call ${method} to ${nodeName} failed: ${(err as Error).message}`, nodeName, { cause: err })
    } finally {
      signal.removeEventListener('abort', onAbort)
      signal.clear()
    }
  }

  private serve(stream: Stream, connection: Connection): void {
    const peer = connection.remotePeer.toString()
    const caller = this.init.directory.nameOf(peer)
    if (caller === null) {
      // Not a cluster member: no method list, no error text, nothing.
      this.init.onUnknownPeer?.(peer)
      stream.abort(new P2pError('ERR_UNKNOWN_PEER', 'not a cluster member'))
      return
    }
    const channel = frameChannel(stream, rpcRequest, { maxFrameBytes: MAX_RPC_FRAME_BYTES, peer, onStalled: this.init.onStalled })
    const run = async (): Promise<void> => {
      const frames = channel.frames()
      const first = await frames.next()
      if (first.done === true) return
      const req = first.value
      const hangup = new AbortController()
      const unwatch = watchHangup(stream, frames, hangup)
      const call = { peer, caller, opId: req.op_id ?? null, deadlineAt: Date.now() + req.deadline_ms }
      try {
        channel.send(await this.answer(req.method, req.params, call, hangup.signal))
      } finally {
        unwatch()
      }
      channel.end()
    }
    run().catch((err: unknown) => {
      const code = (err as { code?: string }).code
      if (code === 'ERR_BAD_FRAME') this.init.log.warn({ peer, err: (err as Error).message }, 'bad rpc frame; stream closed')
      else this.init.log.debug({ peer, err }, 'rpc stream ended')
      stream.abort(err as Error)
    })
  }

  private async answer(name: string, params: unknown, call: Omit<RpcCallContext, 'signal'>, hangup: AbortSignal): Promise<RpcResponse> {
    const fail = (code: string, message: string): RpcResponse => ({ t: 'res', ok: false, error: { code, message } })
    const method = this.methods.get(name)
    if (method === undefined) {
      return fail('ERR_RPC_UNKNOWN_METHOD', `no method ${name}; known: ${[...this.methods.keys()].sort().join(', ')}`)
    }
    const parsed = method.params.safeParse(params)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      return fail('ERR_RPC_BAD_PARAMS', `params.${issue?.path.join('.') ?? ''}: ${issue?.message}`)
    }
    const signal = anySignal([AbortSignal.timeout(Math.max(1, call.deadlineAt - Date.now())), this.stopping.signal, hangup])
    try {
      const result = await method.handler(parsed.data, { ...call, signal })
      return { t: 'res', ok: true, result: (result ?? null) as RpcResponse extends { result: infer J } ? J : never }
    } catch (err) {
      const code = (err as { code?: unknown }).code
      return fail(typeof code === 'string' ? code : 'ERR_RPC_HANDLER', (err as Error).message ?? String(err))
    } finally {
      signal.clear()
    }
  }
}

/** How often a call being served looks whether its caller is still there. */
const HANGUP_POLL_MS = 100

/**
 * A caller sends one frame and closes its side; the rest of its stream then
 * ends cleanly. A reset (the caller gave up, its daemon died, the connection
 * dropped), an error there or a second frame means nobody waits for the
 * answer any more: the call's work is stopped. libp2p 2 streams have no close
 * event, and a reset after the caller's half-close reaches neither our reader
 * (ended already) nor our writer (idle until the answer), so the stream's
 * status is read every HANGUP_POLL_MS. Returns the function that stops
 * watching.
 */
function watchHangup(stream: Stream, rest: AsyncGenerator<unknown>, hangup: AbortController): () => void {
  const timer = setInterval(() => {
    if (stream.status === 'reset' || stream.status === 'aborted') {
      hangup.abort(new P2pError('ERR_CALLER_GONE', `the caller's stream was ${stream.status}`))
    }
  }, HANGUP_POLL_MS)
  timer.unref()
  hangup.signal.addEventListener('abort', () => clearInterval(timer), { once: true })
  rest.next().then(
    (next) => {
      if (next.done !== true) hangup.abort(new P2pError('ERR_BAD_FRAME', 'a second frame on one call'))
    },
    (err: unknown) => hangup.abort(err),
  )
  return () => clearInterval(timer)
}

function unwrap(res: RpcResponse, node: string): unknown {
  if (res.ok) return res.result
  throw new RpcError(res.error.code, `${node}: ${res.error.message}`, node)
}
