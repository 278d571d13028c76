import { anySignal } from 'any-signal'

/** A task as an agent receives it (GET /agents/:id/tasks/next, or a push). */
export interface AgentTask {
  task_id: string
  priority: string
  task_data: Record<string, unknown>
  requirements: Record<string, unknown>
  attempts: number
  timeout_ms: number
  /** ISO time by which the result must be reported, or the task goes to another agent. */
  lease_until: string | null
}

/** A refusal from the coordinator API, with its stable code (TASK_ALREADY_FINISHED, AGENT_NOT_FOUND, ...). */
export class CoordinatorApiError extends Error {
  /** Set when another daemon failed first in the same request: that one may have done it already. */
  afterFailover = false
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message)
    this.name = 'CoordinatorApiError'
  }
}

/** No daemon answered: every URL failed at the network level or was unavailable (503). */
export class CoordinatorUnreachableError extends Error {
  readonly code = 'ERR_COORDINATOR_UNREACHABLE'
}

export interface CoordinatorClientInit {
  /** Daemon API URLs; the client stays on one while it answers and moves to the next when it does not. */
  urls: readonly string[]
  token?: string
  /** Per-request timeout on top of any long-poll wait (default 10000 ms). */
  requestTimeoutMs?: number
}

/**
 * The agent's side of the coordinator HTTP API, failing over between
 * daemons: any daemon serves any agent (the registry is shared), so a
 * network error or a 503 moves to the next URL; an API refusal does not.
 */
export class CoordinatorClient {
  private current = 0

  constructor(private readonly init: CoordinatorClientInit) {
    if (init.urls.length === 0) throw new TypeError('at least one coordinator URL is needed')
  }

  /** The URL in use now. */
  get url(): string {
    return this.init.urls[this.current]!
  }

  /**
   * One request; on a network failure or 503, tries each other URL, and
   * then each URL once more: a pooled keep-alive connection the daemon had
   * just closed fails at once, and the second try opens a fresh one.
   * Resolves with the status and JSON body (null for 204); rejects with
   * CoordinatorApiError for 4xx/5xx answers and CoordinatorUnreachableError
   * when no daemon answered.
   */
  async request(
    method: string,
    path: string,
    body?: unknown,
    opts: { waitMs?: number, signal?: AbortSignal } = {},
  ): Promise<{ status: number, body: Record<string, unknown> | null }> {
    let last: unknown = null
    // A URL that timed out is not tried a second time (it would only wait again).
    const slow = new Set<number>()
    for (let tried = 0; tried < 2 * this.init.urls.length; tried++) {
      if (slow.has(this.current)) {
        this.current = (this.current + 1) % this.init.urls.length
        continue
      }
      const base = this.url
      const timeout = AbortSignal.timeout((opts.waitMs ?? 0) + (this.init.requestTimeoutMs ?? 10_000))
      const signal = anySignal([timeout, opts.signal])
      try {
        const res = await fetch(new URL(path, base), {
          method,
          headers: {
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(this.init.token === undefined ? {} : { authorization: `Bearer ${this.init.token}` }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
        })
        if (res.status === 204) return { status: 204, body: null }
        const text = await res.text()
        let json: Record<string, unknown> = {}
        try {
          json = JSON.parse(text) as Record<string, unknown>
        } catch {
          json = { message: text.slice(0, 200) }
        }
        if (res.status === 503) throw new CoordinatorUnreachableError(`${base} is unavailable: ${String(json.message ?? '')}`)
        if (!res.ok) throw new CoordinatorApiError(res.status, String(json.code ?? `HTTP_${res.status}`), `${method} ${path} on ${base}: ${String(json.message ?? text)}`)
        return { status: res.status, body: json }
      } catch (err) {
        if (err instanceof CoordinatorApiError) {
          err.afterFailover = tried > 0
          throw err
        }
        if (opts.signal?.aborted === true) throw err
        last = err
        if (timeout.aborted) slow.add(this.current)
        this.current = (this.current + 1) % this.init.urls.length
      } finally {
        signal.clear()
      }
    }
    throw new CoordinatorUnreachableError(`no coordinator answered (${this.init.urls.join(', ')}): ${(last as Error)?.message ?? 'unknown'}`, { cause: last })
  }
}
