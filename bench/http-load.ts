import { Pool } from 'undici'

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

/**
 * The benchmarks' HTTP load generator: keep-alive connections through
 * undici's Pool, which costs the client a third of what fetch() does, so that
 * a figure measures the daemon rather than the process driving it (measured:
 * /health 5,900 req/s through fetch, 12,700-18,600 through a Pool, same daemon).
 */
export class HttpLoad {
  private readonly pool: Pool

  constructor(base: string, connections = 64) {
    this.pool = new Pool(base, { connections, pipelining: 1 })
  }

  private send(method: Method, path: string, body?: unknown) {
    return this.pool.request({
      path,
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  }

  /** One request; the body parsed as JSON (null for an empty answer). */
  async call(method: Method, path: string, body?: unknown): Promise<{ status: number, body: Record<string, unknown> | null }> {
    const res = await this.send(method, path, body)
    const text = await res.body.text()
    return { status: res.statusCode, body: text === '' ? null : JSON.parse(text) as Record<string, unknown> }
  }

  /**
   * One request whose answer is read but not parsed: for throughput figures, so that the
   * load generator's JSON parsing of large answers does not take the cores the server needs.
   * The text of an answer of 400 or more comes back, to say what went wrong.
   */
  async status(method: Method, path: string, body?: unknown): Promise<{ status: number, error?: string }> {
    const res = await this.send(method, path, body)
    if (res.statusCode >= 400) return { status: res.statusCode, error: await res.body.text() }
    await res.body.dump({ limit: Infinity })
    return { status: res.statusCode }
  }

  close(): Promise<void> {
    return this.pool.close()
  }
}
