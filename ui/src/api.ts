import { createParser } from 'eventsource-parser'

/** The daemon's API as the dashboard uses it: same origin, the tab's token as a bearer. */
const KEY = 'aitbc-token'

export class ApiFailure extends Error {
  constructor(readonly status: number, readonly code: string | null, message: string, readonly detail: string | null = null) {
    super(message)
  }
}

/**
 * What went wrong, said so that the reader knows what to do: the scope a
 * refused token lacks, the daemon's own message and hint, or that it did not answer.
 */
export function explain(err: unknown, what: string, scope?: string): string {
  if (err instanceof ApiFailure) {
    if (err.status === 403 && scope !== undefined) return `${what}: ${err.message}. Sign in with a token that has ${scope} scope.`
    if (err.status === 401) return `${what}: the token was refused (${err.message}). Sign in again.`
    return `${what}: ${err.message}${err.detail === null ? '' : ` (${err.detail})`}`
  }
  return `${what}: the daemon did not answer (${(err as Error).message}). Check that it runs; the page retries.`
}

export const token = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (t: string): void => sessionStorage.setItem(KEY, t),
  clear: (): void => sessionStorage.removeItem(KEY),
}

const auth = (): Record<string, string> => {
  const t = token.get()
  return t === null ? {} : { authorization: `Bearer ${t}` }
}

export function get<T>(path: string): Promise<T> {
  return call<T>('GET', path)
}

export function post<T>(path: string, body: unknown): Promise<T> {
  return call<T>('POST', path, body)
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: { ...auth(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const answer = (await res.json().catch(() => null)) as { code?: string, message?: string, detail?: string | null } | null
  if (!res.ok) throw new ApiFailure(res.status, answer?.code ?? null, answer?.message ?? `HTTP ${res.status}`, answer?.detail ?? null)
  return answer as T
}

/**
 * Follows an operation's server-sent events with the tab's token (an EventSource cannot send one),
 * resuming from the last event id if the stream drops.
 */
export async function follow(path: string, onEvent: (type: string, data: unknown) => void, signal?: AbortSignal): Promise<void> {
  let lastId: string | undefined
  let done = false
  const parser = createParser({
    onEvent: (e) => {
      lastId = e.id ?? lastId
      if (e.event === 'done') done = true
      onEvent(e.event ?? 'message', JSON.parse(e.data) as unknown)
    },
  })
  for (let attempt = 0; !done && attempt < 10 && signal?.aborted !== true; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 1000))
    const headers = { ...auth(), ...(lastId === undefined ? {} : { 'last-event-id': lastId }) }
    const res = await fetch(path, { headers, signal }).catch(() => null)
    if (res === null) continue
    if (res.status === 204) return
    if (!res.ok || res.body === null) throw new ApiFailure(res.status, null, `HTTP ${res.status}`)
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    try {
      for (;;) {
        const { value, done: ended } = await reader.read()
        if (ended) break
        parser.feed(value)
      }
    } catch {
      // Dropped: the next attempt resumes after lastId.
    }
    parser.reset({ consume: true })
  }
}
