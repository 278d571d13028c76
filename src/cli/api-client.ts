import { send, text } from './http.js'

/** Where the CLI finds a daemon and how it authenticates. */
export interface ApiTarget {
  url: string
  token?: string
}

/** An API call that failed; the message is what the operator reads. */
export class CliError extends Error {
  readonly code = 'ERR_CLI'
  readonly exitCode: number
  /** The API's own error code, when the API refused the request. */
  readonly apiCode: string | undefined
  constructor(message: string, exitCode = 1, apiCode?: string) {
    super(message)
    this.exitCode = exitCode
    this.apiCode = apiCode
  }
}

/** Calls the daemon's HTTP API and returns the JSON body, or throws CliError with the API's own words. */
export async function callApi(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (target.token) headers.authorization = `Bearer ${target.token}`
  let status: number
  let raw: string
  try {
    const res = await send(new URL(path, target.url), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    })
    status = res.statusCode ?? 0
    raw = await text(res)
  } catch (err) {
    const cause = (err as { code?: string }).code ?? (err as Error).message
    if (cause === 'ERR_ANSWER_TOO_LARGE') throw new CliError(`${method} ${path}: ${(err as Error).message}; is ${target.url} an aitbc-node?`)
    throw new CliError(
      `cannot reach aitbc-node at ${target.url} (${cause}): is the daemon running (systemctl status aitbc-node)? Set --url or AITBC_URL`,
    )
  }
  let json: Record<string, unknown>
  try {
    json = JSON.parse(raw) as Record<string, unknown>
  } catch {
    throw new CliError(`${method} ${path}: HTTP ${status} with a non-JSON body: ${raw.slice(0, 200)}`)
  }
  if (status < 200 || status > 299) {
    const detail = json.detail ? ` (${json.detail})` : ''
    // The detail is shown only when it adds something the message does not already say.
    const extra = typeof json.detail === 'string' && !String(json.message ?? '').includes(json.detail) ? detail : ''
    throw new CliError(`${json.code ?? `HTTP ${status}`}: ${json.message ?? raw}${extra}`, 1, typeof json.code === 'string' ? json.code : undefined)
  }
  return json
}
