import type { IncomingMessage, RequestOptions } from 'node:http'

/** One request of the CLI's. */
export interface CliRequest {
  method?: string
  headers?: Record<string, string>
  body?: string
  /** Aborts the request (and a body still being read). */
  signal?: AbortSignal
}

/**
 * Sends a request with node:http (node:https for https URLs, loaded only
 * then) and resolves with the response once its head arrives; the caller
 * reads the body. Not fetch(): its first call loads and compiles undici
 * (about 30 ms), and its pooled connection keeps the process alive for
 * about 70 ms after the command is done: together about two fifths of a
 * command as short as `aitbc-node status`.
 */
export async function send(url: URL, init: CliRequest = {}): Promise<IncomingMessage> {
  const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http')
  const options: RequestOptions = { method: init.method ?? 'GET', headers: init.headers, signal: init.signal }
  return new Promise((resolve, reject) => {
    const req = request(url, options, resolve)
    req.once('error', reject)
    req.end(init.body)
  })
}

/** The most of an answer the CLI reads: far above any page of 1,000 agents or tasks; a stop for an endless answer. */
export const MAX_ANSWER_BYTES = 256 * 1024 * 1024

/** The whole body as text; ERR_ANSWER_TOO_LARGE (the connection dropped) past `limit` bytes. */
export async function text(res: IncomingMessage, limit = MAX_ANSWER_BYTES): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of res) {
    size += (chunk as Buffer).length
    if (size > limit) {
      res.destroy()
      throw Object.assign(new Error(`the answer is larger than ${limit} bytes`), { code: 'ERR_ANSWER_TOO_LARGE' })
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
