import { TaskError, type TaskErrorCode } from '../tasks/task-errors.js'
import { ApiError } from '../errors.js'

/** The one place a domain error's code becomes an HTTP status. */
const TASK_STATUS: Record<TaskErrorCode, number> = {
  TASK_NOT_FOUND: 404,
  TASK_EXPIRED: 410,
  TASK_ALREADY_FINISHED: 409,
  TASK_NOT_ASSIGNED: 409,
  TASK_WRONG_AGENT: 409,
  TASK_NOT_DEAD: 409,
  QUEUE_FULL: 429,
}

/** The ApiError a domain error is answered with, or null for anything else. */
export function fromDomainError(err: unknown): ApiError | null {
  if (err instanceof TaskError) return new ApiError(TASK_STATUS[err.code], err.code, err.message, err.detail)
  return null
}
