/**
 * Errors meant for API clients. Only instances of ApiError reach a response body;
 * anything else is logged and answered with a generic 500 INTERNAL error.
 */
export class ApiError extends Error {
  /** Stable machine-readable code, e.g. AGENT_NOT_FOUND. */
  readonly code: string
  /** HTTP status the error middleware answers with. */
  readonly status: number
  /** Extra human-readable hint: what to do about it, or which field. */
  readonly detail: string | undefined

  constructor(status: number, code: string, message: string, detail?: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.detail = detail
  }
}

export class AgentNotFoundError extends ApiError {
  constructor(agentId: string) {
    super(
      404,
      'AGENT_NOT_FOUND',
      `agent ${agentId} is not registered`,
      'register it with POST /agents/register',
    )
  }
}

export class ValidationError extends ApiError {
  constructor(message: string, detail?: string) {
    super(422, 'VALIDATION_FAILED', message, detail)
  }
}

export class RegistryUnavailableError extends ApiError {
  constructor(cause: unknown) {
    super(
      503,
      'REDIS_UNAVAILABLE',
      'the Redis registry is not reachable',
      'check that Redis is running and that redis.url (REDIS_URL) points at it; the daemon reconnects by itself',
      { cause },
    )
  }
}

/** True when an error from ioredis means the server is unreachable rather than the command being wrong. */
export function isRedisConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const name = err.name
  const msg = err.message
  return (
    name === 'MaxRetriesPerRequestError' ||
    /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ENOENT|ETIMEDOUT|Command timed out|LOADING|CLUSTERDOWN|MASTERDOWN|All sentinels are unreachable/i.test(
      msg,
    )
  )
}
