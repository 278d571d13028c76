import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'

/**
 * Whether a push that failed never reached the agent. Only then is it safe
 * not to count the attempt: the agent cannot have started the task. The line
 * is the connection: an error before it is made (refused, no such host, no
 * route, the deadline passing while connecting) never reached the agent; once
 * it is made the request may have arrived, so a drop or a missing answer
 * counts as an attempt (an agent slower than pushTimeoutMs keeps its task
 * and its attempts, and no circuit opens on it).
 */
const UNREACHED: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EAI_FAIL: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  ERR_INVALID_URL: 'endpoint is not a valid URL',
}

/** Largest answer read from an agent's /tasks/execute (a result travels in it). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024

/** A push that failed, and whether it may have reached the agent. */
export class PushFailure extends Error {
  /** Why it never reached the agent, or null when it may have. */
  readonly unreached: string | null

  constructor(message: string, unreached: string | null, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PushFailure'
    this.unreached = unreached
  }
}

/** Why a failed push never reached the agent, or null when it may have (then the attempt counts). */
export function unreachedReason(err: unknown): string | null {
  return err instanceof PushFailure ? err.unreached : null
}

/** An agent's answer to a push. */
export interface PushAnswer {
  status: number
  text: string
}

/** POSTs JSON to {endpoint}/tasks/execute; fails with a PushFailure that says whether the connection was ever made. */
export function postToAgent(endpoint: string, body: string, timeoutMs: number): Promise<PushAnswer> {
  return new Promise((resolve, reject) => {
    let url: URL
    try {
      url = new URL('/tasks/execute', endpoint)
    } catch (err) {
      reject(new PushFailure(`push to ${endpoint.slice(0, 200)} failed: not a URL`, UNREACHED.ERR_INVALID_URL!, { cause: err }))
      return
    }
    let connected = false
    let settled = false
    const fail = (message: string, unreached: string | null, cause?: unknown): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.destroy()
      reject(new PushFailure(message, unreached, { cause }))
    }
    let req: ReturnType<typeof httpRequest>
    try {
      req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      })
    } catch (err) {
      reject(new PushFailure(`push to ${url.origin} failed: ${(err as Error).message}`, 'endpoint is not usable', { cause: err }))
      return
    }
    const timer = setTimeout(() => fail(
      connected ? `no answer within ${timeoutMs} ms` : `connect timed out (${timeoutMs} ms)`,
      connected ? null : `connect timed out (${timeoutMs} ms)`,
    ), timeoutMs)
    req.on('socket', (socket) => {
      // A kept-alive socket is connected already; a new one once its connect (and TLS) completes.
      if (!socket.connecting) connected = true
      else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => (connected = true))
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      const reason = connected ? null : (UNREACHED[err.code ?? ''] ?? null)
      fail(`push to ${url.origin} failed: ${err.code ?? err.message}`, reason, err)
    })
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_ANSWER_BYTES) fail(`the agent's answer is larger than ${MAX_ANSWER_BYTES} bytes`, null)
        else chunks.push(chunk)
      })
      res.on('error', (err) => fail(`push to ${url.origin}: the answer broke off`, null, err))
      res.on('end', () => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') })
      })
    })
    req.end(body)
  })
}
