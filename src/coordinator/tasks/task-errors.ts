/** Why a task operation changed nothing. The HTTP layer maps each code to a status (http/domain-errors.ts). */
export const TASK_ERROR_CODES = [
  'TASK_NOT_FOUND',
  'TASK_EXPIRED',
  'TASK_ALREADY_FINISHED',
  'TASK_NOT_ASSIGNED',
  'TASK_WRONG_AGENT',
  'TASK_NOT_DEAD',
  'QUEUE_FULL',
] as const
export type TaskErrorCode = (typeof TASK_ERROR_CODES)[number]

/** A domain error of the task repository, with a stable code and a hint of what to do. */
export class TaskError extends Error {
  readonly code: TaskErrorCode
  readonly detail: string | undefined

  constructor(code: TaskErrorCode, message: string, detail?: string) {
    super(message)
    this.name = 'TaskError'
    this.code = code
    this.detail = detail
  }
}
