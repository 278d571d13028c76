import type { Logger } from 'pino'
import type { Task } from './task.js'
import type { TaskRepository } from '../store/task-repository.js'

/**
 * The hand-back policy: a task handed to a poll that had ended goes back to
 * its queue, its attempt not counted. When that fails the lease takes it back.
 */
export function handBackUnclaimed(tasks: Pick<TaskRepository, 'handBack'>, log: Logger): (agentId: string, task: Task) => void {
  return (agentId, task) => {
    tasks.handBack(task.task_id, agentId)
      .then((res) => log.info({ task: task.task_id, agent: agentId, res }, `task ${task.task_id} was handed to agent ${agentId} after its poll ended; back to its queue`))
      .catch((err: unknown) => log.warn({ task: task.task_id, err: (err as Error).message }, `task ${task.task_id} could not be handed back; its lease will take it back`))
  }
}
