import { anySignal } from 'any-signal'
import { z } from 'zod'

/** A chain RPC failure; the message names the URL and what went wrong. */
export class ChainRpcError extends Error {
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ChainRpcError'
  }
}

const headBody = z.looseObject({ height: z.number().int().min(0), hash: z.string().max(200).nullish() })
const mempoolBody = z.union([
  z.looseObject({ count: z.number().int().min(0) }),
  z.looseObject({ size: z.number().int().min(0) }),
  z.looseObject({ transactions: z.array(z.unknown()) }),
  z.array(z.unknown()),
])

/** The chain head as the local blockchain node reports it. */
export interface ChainHead {
  height: number
  hash: string | null
}

/**
 * Client for the local blockchain node's RPC: GET /rpc/head, /rpc/mempool,
 * /health. Every call has a timeout; a 404 "no blocks yet" on head means height 0.
 */
export class ChainRpc {
  constructor(readonly baseUrl: string, private readonly timeoutMs = 2000) {}

  async head(signal?: AbortSignal): Promise<ChainHead> {
    const res = await this.get('/rpc/head', signal)
    if (res.status === 404) return { height: 0, hash: null }
    const body = headBody.safeParse(await this.json(res, '/rpc/head'))
    if (!body.success) throw this.badBody('/rpc/head', 'expected {height, hash}')
    return { height: body.data.height, hash: body.data.hash ?? null }
  }

  async mempoolSize(signal?: AbortSignal): Promise<number> {
    const res = await this.get('/rpc/mempool', signal)
    const body = mempoolBody.safeParse(await this.json(res, '/rpc/mempool'))
    if (!body.success) throw this.badBody('/rpc/mempool', 'expected {count}, {size} or a list of transactions')
    const d = body.data as unknown[] | { count?: number, size?: number, transactions?: unknown[] }
    if (Array.isArray(d)) return d.length
    return d.count ?? d.size ?? d.transactions?.length ?? 0
  }

  /** True when GET /health answers 2xx. */
  async healthy(signal?: AbortSignal): Promise<boolean> {
    const res = await this.get('/health', signal)
    await res.body?.cancel()
    return res.ok
  }

  private async get(path: string, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const url = new URL(path, this.baseUrl)
    const both = anySignal([timeout, signal])
    try {
      const res = await fetch(url, { signal: both })
      if (!res.ok && !(res.status === 404 && path === '/rpc/head')) {
        await res.body?.cancel()
        throw new ChainRpcError('ERR_CHAIN_RPC_STATUS', `chain RPC ${url.href} answered HTTP ${res.status}`)
      }
      return res
    } catch (err) {
      if (err instanceof ChainRpcError) throw err
      if (timeout.aborted) {
        throw new ChainRpcError('ERR_CHAIN_RPC_TIMEOUT', `chain RPC ${url.href} did not answer within ${this.timeoutMs} ms`)
      }
      const cause = (err as { cause?: { code?: string, message?: string } }).cause
      const why = cause?.code ?? cause?.message ?? (err as Error).message
      throw new ChainRpcError('ERR_CHAIN_RPC_UNREACHABLE', `chain RPC ${url.href} unreachable (${why})`, { cause: err })
    }
  }

  private async json(res: Response, path: string): Promise<unknown> {
    try {
      return await res.json()
    } catch (err) {
      throw new ChainRpcError('ERR_CHAIN_RPC_BODY', `chain RPC ${this.baseUrl}${path} did not answer JSON`, { cause: err })
    }
  }

  private badBody(path: string, expected: string): ChainRpcError {
    return new ChainRpcError('ERR_CHAIN_RPC_BODY', `chain RPC ${this.baseUrl}${path}: ${expected}`)
  }
}
