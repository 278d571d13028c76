import type { NextResult, TaskRepository, Wait } from '../store/task-repository.js'
import type { Task } from './task.js'
import type { TaskWakeups, Wake } from './task-wakeups.js'

/** What the waiter needs of the task store. */
export type WaiterStore = Pick<TaskRepository, 'next' | 'completeAndNext' | 'stopWaiting'>
/** What the waiter needs of the wake-ups. */
export type WaiterWakeups = Pick<TaskWakeups, 'sequence' | 'instance' | 'wait' | 'passOn'>

export interface TaskWaiterInit {
  tasks: WaiterStore
  wakeups: WaiterWakeups
  /** A task handed to a poll whose client had gone: back to its queue (TaskRepository.handBack). */
  onUnclaimed(agentId: string, task: Task): void
}

/** The client of a long poll: it emits close when it goes (an http.ServerResponse does). */
export interface PollClient {
  once(event: 'close', listener: () => void): unknown
}

/** One long poll: how long, and for whom. */
export interface PollOptions {
  /** How long to wait for a task when there is none now; 0: answer at once. */
  waitMs: number
  /** The waiting client; a poll ends early when it goes. */
  client: PollClient
}

/**
 * A pull agent's long poll for its next task: claim one, and when there is
 * none, wait until `waitMs` from now for a hand-off at submission or a
 * wake-up for a class the agent can take; the poll ends with its client.
 */
export class TaskWaiter {
  constructor(private readonly init: TaskWaiterInit) {}

  /** The agent's next task, claimed for it, or null when none came within waitMs. */
  async next(agentId: string, opts: PollOptions): Promise<Task | null> {
    const poll = this.poll(agentId, opts)
    const since = this.init.wakeups.sequence
    const first = await this.init.tasks.next(agentId, poll.window())
    return first.task ?? await poll.follow(first, since)
  }

  /**
   * Completes a task and claims the agent's next in one step (one round trip
   * per task); `completed` runs once the completion is stored, before any wait.
   */
  async completeAndNext(
    taskId: string, agentId: string, result: string, opts: PollOptions & { completed(): void },
  ): Promise<Task | null> {
    const poll = this.poll(agentId, opts)
    const since = this.init.wakeups.sequence
    const first = await this.init.tasks.completeAndNext(taskId, agentId, result, poll.window())
    opts.completed()
    return first.task ?? await poll.follow(first, since)
  }

  private poll(agent: string, opts: PollOptions) {
    const { tasks, wakeups } = this.init
    // No wait (most completions): nothing to follow.
    if (opts.waitMs <= 0) {
      return { window: (): Wait | undefined => undefined, follow: async (idle: NextResult, _since: number) => idle.task }
    }
    const deadline = Date.now() + opts.waitMs
    // The wait is aborted only when the client goes while it waits, and its controller is made only
    // then: an abort on every answered request's close builds an AbortError with its stack each time
    // (about 1.4% of the CPU).
    let gone: AbortController | null = null
    let closed = false
    opts.client.once('close', () => {
      closed = true
      gone?.abort()
    })
    const window = (): Wait => ({ ms: deadline - Date.now(), instance: wakeups.instance })
    const loop = async (idle: NextResult, since: number, signal: AbortSignal): Promise<Task | null> => {
      let next = idle
      let woken: Wake | null = null
      for (;;) {
        if (next.task !== null) return next.task
        // Woken for a task this agent cannot take after all (full, inactive): the next waiter may.
        if (woken?.handedOff === undefined && woken?.requirementClass != null && next.why !== 'empty') {
          wakeups.passOn(woken.requirementClass, new Set([...woken.tried, agent]))
        }
        const left = deadline - Date.now()
        woken = left > 0 && !closed ? await wakeups.wait(agent, next, left, signal, since) : null
        if (woken?.handedOff !== undefined) {
          // Handed over at submission, already running for this agent; unless the client has gone meanwhile.
          if (!closed) return woken.handedOff
          this.init.onUnclaimed(agent, woken.handedOff)
        }
        if (woken === null || closed || Date.now() >= deadline) {
          // The poll ends: no task is handed to it any more (not awaited: the answer need not wait for it).
          tasks.stopWaiting(agent).catch(() => {})
          return null
        }
        since = wakeups.sequence
        next = await tasks.next(agent, window())
      }
    }
    /** After a claim found nothing (`since`: the wake-up sequence read before it): the task, or null when the wait ends. */
    const follow = async (idle: NextResult, since: number): Promise<Task | null> => {
      gone = new AbortController()
      try {
        return await loop(idle, since, gone.signal)
      } finally {
        gone = null
      }
    }
    return { window, follow }
  }
}
