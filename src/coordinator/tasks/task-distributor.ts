import type { Logger } from 'pino'
import type { AssignmentSignals } from './assignment-signals.js'
import { eligible, pickAgent } from './strategies.js'
import type { AgentSlot, TaskStore } from './task-store.js'
import type { Priority } from './task.js'

export interface TaskDistributorInit {
  store: TaskStore
  log: Logger
  /** How often queues are looked at when nothing wakes the distributor (default 100 ms). */
  pollIntervalMs: number
  /** A task waiting longer than this is served before higher priorities (null: strict priority). */
  agingMs: number | null
  /** Timeout of a push to an agent's /tasks/execute. */
  pushTimeoutMs: number
  /** Base URL agents report back to (this daemon's API). */
  apiUrl(): string | null
  /** Called for every assignment (metrics). */
  onAssigned?(priority: Priority, waitedMs: number): void
  /** Woken for every assignment to a pull agent, so its long poll answers at once. */
  signals?: AssignmentSignals
  onReclaimed?(count: number): void
}

const BATCH = 200

/**
 * Every daemon runs one. It hands ready tasks, in priority order, to eligible
 * agents chosen by the shared strategy; the claim itself is a Lua script, so
 * several distributors on one Redis never assign a task twice. It also takes
 * back tasks whose lease ran out or whose agent went stale.
 */
export class TaskDistributor {
  private timer: NodeJS.Timeout | null = null
  private running = false
  private again = false
  private lastReclaim = 0
  private readonly pushes = new Set<Promise<void>>()

  constructor(private readonly init: TaskDistributorInit) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), this.init.pollIntervalMs)
    this.wake()
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    await Promise.allSettled([...this.pushes])
  }

  /** Look at the queues now (a task was submitted, an agent registered or finished). */
  wake(): void {
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    this.tick()
      .catch((err: unknown) => this.init.log.warn({ err: (err as Error).message }, 'distribution round failed; retrying'))
      .finally(() => {
        this.running = false
        if (this.again && this.timer !== null) {
          this.again = false
          // A short gap lets wakes pile up into one round instead of one round each.
          setTimeout(() => this.wake(), 2)
        }
      })
  }

  private async tick(): Promise<void> {
    const { store } = this.init
    const now = Date.now()
    if (now - this.lastReclaim >= 250) {
      this.lastReclaim = now
      const taken = await store.reclaim()
      if (taken.length > 0) {
        this.init.log.warn({ tasks: taken.length }, 'took back tasks whose lease ran out or whose agent went stale')
        this.init.onReclaimed?.(taken.length)
      }
    }
    const [agents, strategy] = await Promise.all([store.activeAgents(), store.strategy()])
    // Read about as many tasks as there are free slots (some may need other agents): the rest
    // would only be parsed and skipped.
    const free = agents.reduce((n, a) => n + Math.max(0, a.capacity - a.in_flight), 0)
    if (free === 0) return
    const ready = await store.readyTasks(Math.min(BATCH, free * 2 + 10), this.init.agingMs)
    if (ready.length === 0) return
    let assigned = 0
    // Claims go out together (one pipelined write); the agent's slot is taken
    // locally first and given back if the claim fails.
    const claims: Promise<void>[] = []
    for (const task of ready) {
      const candidates = agents.filter((a) => eligible(a, task.requirements))
      if (candidates.length === 0) continue
      const turn = strategy === 'round_robin' || strategy === 'weighted_round_robin' ? await store.nextTurn() : 0
      const agent = pickAgent(strategy, candidates, task.requirements, turn)
      if (agent === undefined) continue
      agent.in_flight++
      claims.push(store.assign(task.id, task.priority, agent).then((res) => {
        if (res !== 'OK') {
          agent.in_flight = res === 'TAKEN' ? agent.in_flight - 1 : agent.capacity
          return
        }
        assigned++
        this.init.onAssigned?.(task.priority, Date.now() - task.submittedMs)
        if (agent.http !== null) this.track(this.push(task.id, agent))
        else this.init.signals?.assigned(agent.agent_id)
      }))
    }
    await Promise.all(claims)
    if (assigned > 0) this.again = true
  }

  private track(p: Promise<void>): void {
    this.pushes.add(p)
    void p.finally(() => this.pushes.delete(p))
  }

  /** POST {http}/tasks/execute; a refusal or timeout counts as a failed attempt. */
  private async push(taskId: string, agent: AgentSlot): Promise<void> {
    const { store, log } = this.init
    try {
      const task = await store.get(taskId)
      const api = this.init.apiUrl()
      const res = await fetch(new URL('/tasks/execute', agent.http!), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          task_id: task.task_id,
          task_data: task.task_data,
          priority: task.priority,
          requirements: task.requirements,
          attempt: task.attempts,
          lease_until: task.lease_until,
          complete_url: api === null ? null : `${api}/tasks/${task.task_id}/complete`,
          fail_url: api === null ? null : `${api}/tasks/${task.task_id}/fail`,
        }),
        signal: AbortSignal.timeout(this.init.pushTimeoutMs),
      })
      const body = await res.json().catch(() => ({})) as { status?: string, result?: unknown }
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      // An agent may answer with the result at once, as the original's agents did.
      if (body.status === 'completed') await store.report(taskId, agent.agent_id, 'completed', JSON.stringify(body.result ?? null))
      else await store.report(taskId, agent.agent_id, 'running', '')
    } catch (err) {
      const reason = `push to agent ${agent.agent_id} at ${agent.http} failed: ${(err as Error).message}`
      log.warn({ task: taskId, agent: agent.agent_id, err: (err as Error).message }, `push of task ${taskId} to agent ${agent.agent_id} failed (${(err as Error).message}); the task goes back to its queue or to the dead letters`)
      await store.report(taskId, agent.agent_id, 'retry', reason).catch(() => {})
    }
  }
}
