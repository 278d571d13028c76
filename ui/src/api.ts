import { createParser } from 'eventsource-parser'

/** The daemon's API as the dashboard uses it: same origin, the tab's token as a bearer. */
const KEY = 'aitbc-token'

export class ApiFailure extends Error {
  constructor(readonly status: number, readonly code: string | null, message: string) {
    super(message)
  }
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
  const answer = (await res.json().catch(() => null)) as { code?: string, message?: string } | null
  if (!res.ok) throw new ApiFailure(res.status, answer?.code ?? null, answer?.message ?? `HTTP ${res.status}`)
  return answer as T
}

/**
 * Follows an operation's server-sent events with the tab's token (an EventSource cannot send one),
 * resuming from the last event id if the stream drops.
 */
export async function follow(path: string, onEvent: (type: string, data: unknown) => void): Promise<void> {
  let lastId: string | undefined
  let done = false
  const parser = createParser({
    onEvent: (e) => {
      lastId = e.id ?? lastId
      if (e.event === 'done') done = true
      onEvent(e.event ?? 'message', JSON.parse(e.data) as unknown)
    },
  })
  for (let attempt = 0; !done && attempt < 10; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 1000))
    const res = await fetch(path, { headers: { ...auth(), ...(lastId === undefined ? {} : { 'last-event-id': lastId }) } }).catch(() => null)
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
