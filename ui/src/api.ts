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

export async function get<T>(path: string): Promise<T> {
  const t = token.get()
  const res = await fetch(path, { headers: t === null ? {} : { authorization: `Bearer ${t}` } })
  const body = (await res.json().catch(() => null)) as { code?: string, message?: string } | null
  if (!res.ok) throw new ApiFailure(res.status, body?.code ?? null, body?.message ?? `HTTP ${res.status}`)
  return body as T
}
