/**
 * Whether a push that threw never reached the agent. Only then is it safe not
 * to count the attempt: the agent cannot have started the task. Errors of
 * fetch (undici) carry the system or undici code on `cause`; an agent that
 * took the connection and then dropped it (ECONNRESET, UND_ERR_SOCKET) may
 * have the task, so that counts as reached.
 */
const UNREACHED: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EAI_FAIL: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  ERR_INVALID_URL: 'endpoint is not a valid URL',
}

/** Why a push did not reach the agent, or null when it may have (then the attempt counts). */
export function unreachedReason(err: unknown, timeoutMs: number): string | null {
  // The push's own deadline, before any answer (fetch resolves at the response head).
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as Error & { code?: unknown }).code
    if (typeof code === 'string' && code in UNREACHED) return UNREACHED[code]!
    // Several addresses tried (happy eyeballs): every one of them must have failed to connect.
    if (e instanceof AggregateError && e.errors.length > 0) {
      const reasons = e.errors.map((x) => unreachedReason(x, timeoutMs))
      if (reasons.every((r) => r !== null)) return reasons[0]!
    }
  }
  return null
}
