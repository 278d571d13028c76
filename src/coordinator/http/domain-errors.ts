import { OpsBusyError } from '../../ops/index.js'
import { ApiError, CoordinatorError } from '../errors.js'
import { TaskError } from '../tasks/task-errors.js'

/**
 * The one place a domain error becomes an ApiError: its code keeps its name
 * and takes its status from the catalog (errors.ts). Null for anything else,
 * which the error middleware answers as 500 INTERNAL.
 */
export function fromDomainError(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err
  if (err instanceof CoordinatorError || err instanceof TaskError) {
    return new ApiError(err.code, err.message, err.detail, { cause: err.cause })
  }
  if (err instanceof OpsBusyError) return new ApiError(err.code, err.message, 'retry in a few seconds')
  return null
}
