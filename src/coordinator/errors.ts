/**
 * The one error catalog of the coordinator API: every code a response body
 * can carry, with the HTTP status it is sent with and when. The route table
 * lists which of these each route answers; the OpenAPI document and the error
 * middleware both read the statuses from here.
 */
export const ERRORS = {
  INVALID_JSON: { status: 400, why: 'the body is not valid JSON' },
  JSON_TOO_DEEP: { status: 400, why: 'the body nests deeper than 64 levels' },
  FORBIDDEN_KEY: { status: 400, why: 'the body holds a __proto__ or constructor.prototype key' },
  BODY_UNREADABLE: { status: 400, why: 'the body could not be read' },
  UNAUTHENTICATED: { status: 401, why: 'no bearer token, and this daemon takes no anonymous requests' },
  INVALID_TOKEN: { status: 401, why: 'the bearer token is unknown' },
  FORBIDDEN: { status: 403, why: 'the token lacks every scope the route accepts' },
  FOREIGN_ORIGIN: { status: 403, why: 'Origin or Sec-Fetch-Site names another site (a browser page)' },
  NOT_FOUND: { status: 404, why: 'no such route' },
  UI_NOT_BUILT: { status: 404, why: 'the dashboard was not built' },
  AGENT_NOT_FOUND: { status: 404, why: 'the agent is not registered' },
  TASK_NOT_FOUND: { status: 404, why: 'no task with this id' },
  MESSAGE_NOT_FOUND: { status: 404, why: 'the message is not known on this node' },
  OPERATION_NOT_FOUND: { status: 404, why: 'no operation with this id in the journal' },
  METHOD_NOT_ALLOWED: { status: 405, why: 'the dashboard answers GET and HEAD only' },
  HTTP_405: { status: 405, why: 'the path exists, the method does not (Allow lists the methods)' },
  TASK_ALREADY_FINISHED: { status: 409, why: 'the task already completed or failed' },
  TASK_NOT_ASSIGNED: { status: 409, why: 'the task is not assigned to any agent' },
  TASK_WRONG_AGENT: { status: 409, why: 'the task is assigned to another agent' },
  TASK_NOT_DEAD: { status: 409, why: 'only a dead task can be requeued' },
  TASK_EXPIRED: { status: 410, why: 'the task finished and its record expired' },
  BODY_TOO_LARGE: { status: 413, why: 'the body is larger than coordinator.bodyLimitBytes' },
  TASK_TOO_LARGE: { status: 413, why: 'task_data is larger than tasks.maxTaskBytes' },
  MESSAGE_TOO_LARGE: { status: 413, why: 'the message body is larger than messages.maxBodyBytes' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, why: 'a body not typed Content-Type: application/json' },
  UNSUPPORTED_ENCODING: { status: 415, why: 'a body charset other than UTF-8' },
  HOST_NOT_ALLOWED: { status: 421, why: 'Host is not a loopback name, an IP address, the node name or in coordinator.allowedHosts' },
  VALIDATION_FAILED: { status: 422, why: 'a parameter, query or body field is invalid; the message names it' },
  QUEUE_FULL: { status: 429, why: 'the queue holds tasks.maxQueueSize tasks' },
  RATE_LIMITED: { status: 429, why: 'this caller sends messages faster than messages.rate (Retry-After)' },
  OUTBOX_FULL: { status: 429, why: 'undelivered messages fill messages.outbox' },
  OPS_BUSY: { status: 429, why: 'every operation slot and the whole queue are taken' },
  INTERNAL: { status: 500, why: 'a bug: the daemon log has the stack' },
  OPERATION_NOT_AVAILABLE: { status: 501, why: 'this build does not run the operation' },
  REDIS_UNAVAILABLE: { status: 503, why: 'Redis is not reachable; the daemon reconnects by itself' },
  SHUTTING_DOWN: { status: 503, why: 'the daemon is stopping; retry against another node' },
  OPERATION_ABORTED: { status: 503, why: 'the daemon stopped before the operation could report' },
} as const satisfies Record<string, { status: number, why: string }>

/** A code a response body can carry. */
export type ErrorCode = keyof typeof ERRORS
/** Every code, in the catalog's order. */
export const ERROR_CODES = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]

/** A domain failure with a stable code: storage and domain code throw these; the HTTP layer gives them a status. */
export class CoordinatorError extends Error {
  /** Stable machine-readable code, e.g. AGENT_NOT_FOUND. */
  readonly code: ErrorCode
  /** Extra human-readable hint: what to do about it, or which field. */
  readonly detail: string | undefined

  constructor(code: ErrorCode, message: string, detail?: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'CoordinatorError'
    this.code = code
    this.detail = detail
  }
}

/**
 * Errors meant for API clients. Only instances of ApiError reach a response body
 * (domain errors become one in http/domain-errors.ts); anything else is logged
 * and answered with a generic 500 INTERNAL error.
 */
export class ApiError extends CoordinatorError {
  /** HTTP status the error middleware answers with, from the catalog. */
  readonly status: number

  constructor(code: ErrorCode, message: string, detail?: string, options?: ErrorOptions) {
    super(code, message, detail, options)
    this.name = 'ApiError'
    this.status = ERRORS[code].status
  }
}

export class ValidationError extends ApiError {
  constructor(message: string, detail?: string) {
    super('VALIDATION_FAILED', message, detail)
  }
}

/**
 * True when an error means Redis is unreachable, refused the command while
 * (re)connecting, or did not answer in time (starved or hung), rather than the
 * command being wrong: the ioredis errors of a single server, a Sentinel set
 * and a Cluster, and a REDIS_UNAVAILABLE the store made of one (withRedis).
 * Case matters: a message that merely says "loading" is no Redis LOADING reply.
 */
export function isRedisConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if (err instanceof CoordinatorError) return err.code === 'REDIS_UNAVAILABLE'
  const name = err.name
  const msg = err.message
  return (
    name === 'MaxRetriesPerRequestError' || name === 'ClusterAllFailedError' ||
    /Stream isn't writeable|Cluster isn't ready|Connection is closed|Connection is aborted|Command aborted due to connection close|Command timed out|Socket timeout|None of startup nodes is available|Cluster is disconnected|ECONNREFUSED|ECONNRESET|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOENT|ETIMEDOUT|\bLOADING\b|\bCLUSTERDOWN\b|\bMASTERDOWN\b|All sentinels are unreachable/.test(
      msg,
    )
  )
}
