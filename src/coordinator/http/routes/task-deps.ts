import type { AgentRegistry } from '../../store/agent-registry.js'
import type { LoadBalancerState } from '../../store/load-balancer-state.js'
import type { TaskDistributor } from '../../tasks/task-distributor.js'
import type { TaskRepository } from '../../store/task-repository.js'
import type { TaskWakeups } from '../../tasks/task-wakeups.js'
import type { Priority, Task } from '../../tasks/task.js'

/** What the task routes need. */
export interface TaskRouteDeps {
  tasks: TaskRepository
  balancer: LoadBalancerState
  registry: Pick<AgentRegistry, 'activeSlots'>
  distributor: TaskDistributor
  wakeups: TaskWakeups
  /** Capacity of an agent whose metadata gives none (for the stats' loads). */
  defaultCapacity: number
  /** Called for each task a pull agent took here (metrics). */
  onAssigned?(priority: Priority, waitedMs: number): void
  /** Called for each new submission, completion and failure report this daemon took (metrics: counted where it happened). */
  onOutcome?(outcome: 'submitted' | 'completed' | 'failed' | 'retried' | 'dead'): void
  /** A task handed to a poll whose client had gone: back to its queue (TaskRepository.handBack). */
  onUnclaimed(agentId: string, task: Task): void
  nodeName: string
  bodyLimitBytes: number
  maxTaskBytes: number
  maxTimeoutMs: number
}
