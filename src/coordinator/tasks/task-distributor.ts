import type { Logger } from 'pino'
import type { AgentSlot } from '../registry/agent.js'
import type { AgentRegistry } from '../store/agent-registry.js'
import type { LoadBalancerState } from '../store/load-balancer-state.js'
import { circuitAllows, type CircuitSettings } from '../store/push-circuits.js'
import { type PushAnswer, postToAgent, unreachedReason } from './push-outcome.js'
import { eligible, pickAgent } from './strategies.js'
import type { TaskRepository } from '../store/task-repository.js'
import type { TaskEvent, TaskWakeups } from './task-wakeups.js'
import type { Priority, Strategy } from './task.js'

export interface TaskDistributorInit {
  tasks: TaskRepository
  registry: Pick<AgentRegistry, 'activeSlots'>
  balancer: LoadBalancerState
  wakeups: TaskWakeups
  log: Logger
  /** Capacity of an agent whose metadata gives none (tasks.agentCapacity). */
  defaultCapacity: number
  /**
   * Longest gap between two looks for expired leases (tasks.reclaimIntervalMs,
   * default 1000 ms). The look is made at the lowest lease end when that comes
   * sooner, so an idle daemon issues one cheap script per interval.
   */
  reclaimIntervalMs: number
  /** Timeout of a push to an agent's /tasks/execute. */
  pushTimeoutMs: number
  /** When pushes that never reach an agent open its circuit (tasks.pushCircuit). */
  circuit: CircuitSettings
  /** Base URL agents report back to (this daemon's API). */
  apiUrl(): string | null
  /** Called for every assignment (metrics). */
  onAssigned?(priority: Priority, waitedMs: number): void
  onReclaimed?(count: number): void
}

const BATCH = 200

/**
 * Every daemon runs one, woken by events rather than on an interval: a task
 * ready (on any daemon, through TaskWakeups), a completion here, an agent or
 * strategy change. It assigns ready tasks, in priority order, to the agents
 * the shared strategy picks: push agents always, and pull agents too under
 * any strategy but least_connections (under it, pull agents take work in the
 * call that asks for it). The claim is a Lua script, so several distributors
 * never assign a task twice. It also takes back tasks whose lease ran out or
 * whose agent went stale.
 */
export class TaskDistributor {
  private running = false
  private again = false
  private started = false
  private readonly pushes = new Set<Promise<void>>()
  private roundTimer: NodeJS.Timeout | null = null
  private roundAt = 0
  private reclaimTimer: NodeJS.Timeout | null = null
  private strategy: Strategy | null = null
  /** The last round found no agent to assign to; until agents change, rounds cost nothing. */
  private noCandidates = false
  private reclaimAllPending = false
  private unsubscribe: (() => void) | null = null

  constructor(private readonly init: TaskDistributorInit) {}

  start(): void {
    if (this.started) return
    this.started = true
    this.unsubscribe = this.init.wakeups.onEvent((e) => this.onEvent(e))
    this.scheduleReclaim(0)
    this.wake()
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.unsubscribe?.()
    for (const t of [this.roundTimer, this.reclaimTimer]) if (t !== null) clearTimeout(t)
    this.roundTimer = null
    this.reclaimTimer = null
    await Promise.allSettled([...this.pushes])
  }

  /** Look at the queues now (a task was submitted or finished here). */
  wake(): void {
    if (!this.started) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    this.round()
      .catch((err: unknown) => this.init.log.warn({ err: (err as Error).message }, 'distribution round failed; the next event or reclaim tick retries'))
      .finally(() => {
        this.running = false
        if (this.again && this.started) {
          this.again = false
          // A short gap lets wakes pile up into one round instead of one round each.
          setTimeout(() => this.wake(), 2)
        }
      })
  }

  private onEvent(e: TaskEvent): void {
    if (e.kind === 'ready') this.wake()
    else if (e.kind === 'agents') {
      this.strategy = null
      this.noCandidates = false
      this.reclaimAllSoon()
      this.wake()
    }
  }

  private async round(): Promise<void> {
    if (this.noCandidates) return
    const { tasks, registry, balancer } = this.init
    this.strategy ??= await balancer.strategy()
    const strategy = this.strategy
    // Under least_connections pull agents claim for themselves; the distributor serves push agents.
    // An agent whose push circuit is open takes nothing until its probe time (then one push tries it).
    const now = Date.now()
    const agents = (await registry.activeSlots(this.init.defaultCapacity, { pushOnly: strategy === 'least_connections' }))
      .filter((a) => circuitAllows(a, now))
    if (agents.length === 0) {
      this.noCandidates = true
      return
    }
    // Read about as many tasks as there are free slots (some may need other agents): the rest
    // would only be parsed and skipped.
    const free = agents.reduce((n, a) => n + Math.max(0, a.capacity - a.in_flight), 0)
    if (free === 0) return
    const { tasks: ready, nextReadyAt } = await tasks.readyTasks(Math.min(BATCH, free * 2 + 10))
    if (nextReadyAt !== null) this.wakeAt(nextReadyAt)
    let assigned = 0
    // Claims go out together (one pipelined write); the agent's slot is taken
    // locally first and given back if the claim fails.
    const claims: Promise<void>[] = []
    for (const task of ready) {
      let candidates = agents.filter((a) => eligible(a, task.requirements))
      // Agents a push of this task failed to reach come last: only when no other can take it.
      const untried = candidates.filter((a) => !task.avoid.includes(a.agent_id))
      if (untried.length > 0) candidates = untried
      if (candidates.length === 0) continue
      const turn = strategy === 'round_robin' || strategy === 'weighted_round_robin' ? await balancer.nextTurn() : 0
      const agent = pickAgent(strategy, candidates, task.requirements, turn)
      if (agent === undefined) continue
      agent.in_flight++
      claims.push(tasks.assign(task.id, agent, this.init.pushTimeoutMs + 1000).then((res) => {
        if (res !== 'OK') {
          agent.in_flight = res === 'TAKEN' ? agent.in_flight - 1 : agent.capacity
          return
        }
        assigned++
        this.init.onAssigned?.(task.priority, Date.now() - task.submittedMs)
        if (agent.http !== null) this.track(this.push(task.id, agent))
      }))
    }
    await Promise.all(claims)
    if (assigned > 0) this.again = true
  }

  /**
   * A round when a delayed task becomes ready (one timer, the earliest). Delays
   * announced while this daemon runs also come as events (TaskWakeups); this
   * covers those queued before it started.
   */
  private wakeAt(at: number): void {
    if (!this.started || (this.roundTimer !== null && this.roundAt <= at)) return
    if (this.roundTimer !== null) clearTimeout(this.roundTimer)
    this.roundAt = at
    this.roundTimer = setTimeout(() => {
      this.roundTimer = null
      this.wake()
    }, Math.max(0, at - Date.now()) + 1)
    this.roundTimer.unref()
  }

  private scheduleReclaim(ms: number): void {
    if (!this.started) return
    if (this.reclaimTimer !== null) clearTimeout(this.reclaimTimer)
    this.reclaimTimer = setTimeout(() => {
      this.reclaimTimer = null
      void this.reclaim(this.reclaimAllPending ? 'all' : 'expired')
    }, ms)
    this.reclaimTimer.unref()
  }

  /** After an agent changed: its tasks may need taking back now, not at their lease end. */
  private reclaimAllSoon(): void {
    if (this.reclaimAllPending) return
    this.reclaimAllPending = true
    this.scheduleReclaim(20)
  }

  private async reclaim(mode: 'expired' | 'all'): Promise<void> {
    if (mode === 'all') this.reclaimAllPending = false
    let next = this.init.reclaimIntervalMs
    try {
      const { taken, nextLeaseEnd } = await this.init.tasks.reclaim(mode)
      if (taken.length > 0) {
        this.init.log.warn({ tasks: taken.length }, `took back ${taken.length} tasks whose lease ran out or whose agent went stale`)
        this.init.onReclaimed?.(taken.length)
      }
      if (nextLeaseEnd !== null) next = Math.min(next, Math.max(1, nextLeaseEnd - Date.now() + 1))
      // Now and then, look at agents and strategy again even without an event (a lost subscription).
      this.noCandidates = false
      this.strategy = null
      this.wake()
    } catch (err) {
      this.init.log.warn({ err: (err as Error).message }, 'reclaim of expired leases failed; retrying')
    }
    this.scheduleReclaim(next)
  }

  private track(p: Promise<void>): void {
    this.pushes.add(p)
    void p.finally(() => this.pushes.delete(p))
  }

  /**
   * POST {http}/tasks/execute. A push that never reached the agent (refused,
   * no such host, no answer in time) goes back uncounted and counts toward the
   * agent's circuit; an answer that refuses the task counts as a failed attempt.
   */
  private async push(taskId: string, agent: AgentSlot): Promise<void> {
    const { tasks } = this.init
    let payload: string
    try {
      payload = await this.payload(taskId)
    } catch (err) {
      await this.failed(taskId, agent, (err as Error).message)
      return
    }
    let res: PushAnswer
    try {
      res = await postToAgent(agent.http!, payload, this.init.pushTimeoutMs)
    } catch (err) {
      const why = unreachedReason(err)
      if (why !== null) {
        await this.unreached(taskId, agent, why)
        return
      }
      await this.failed(taskId, agent, (err as Error).message)
      return
    }
    const ok = res.status >= 200 && res.status < 300
    try {
      const body = parseAnswer(res.text)
      if (agent.pushFailures > 0 || agent.circuit !== 'closed' || !ok) await this.reached(agent, taskId, ok ? '' : `push to ${agent.agent_id} answered HTTP ${res.status}`)
      if (!ok) throw new Error(`HTTP ${res.status}`)
      // An agent may answer with the result at once (the original system's agents do).
      if (body.status === 'completed') await tasks.report(taskId, agent.agent_id, 'completed', JSON.stringify(body.result ?? null))
      else await tasks.report(taskId, agent.agent_id, 'running', '')
    } catch (err) {
      await this.failed(taskId, agent, (err as Error).message)
    }
  }

  /** The push's body: the task as seed 001's agents take it, with the URLs to report to. */
  private async payload(taskId: string): Promise<string> {
    const task = await this.init.tasks.get(taskId)
    const api = this.init.apiUrl()
    return JSON.stringify({
      task_id: task.task_id,
      task_data: task.task_data,
      priority: task.priority,
      requirements: task.requirements,
      attempt: task.attempts,
      lease_until: task.lease_until,
      complete_url: api === null ? null : `${api}/tasks/${task.task_id}/complete`,
      fail_url: api === null ? null : `${api}/tasks/${task.task_id}/fail`,
    })
  }

  /** The agent answered: its failure run ends and an open circuit closes. */
  private async reached(agent: AgentSlot, taskId: string, note: string): Promise<void> {
    // The agent has the task: a failure to record that must not cost the task an attempt.
    const closed = await this.init.tasks.push.reached(agent.agent_id, taskId, note).catch((err: unknown) => {
      this.init.log.warn({ agent: agent.agent_id, err: (err as Error).message }, `could not record that agent ${agent.agent_id} answered a push`)
      return false
    })
    if (closed) this.init.log.info({ agent: agent.agent_id }, `agent ${agent.agent_id} answered a push again; its circuit is closed and it takes tasks`)
  }

  private async unreached(taskId: string, agent: AgentSlot, why: string): Promise<void> {
    const { tasks, log } = this.init
    try {
      const out = await tasks.push.unreached(taskId, agent.agent_id, why, this.init.circuit)
      log.warn({ task: taskId, agent: agent.agent_id, err: why, failures: out.failures },
        `push of task ${taskId} to agent ${agent.agent_id} at ${agent.http} failed (${why}); never reached, so not counted as an attempt${out.requeued ? '; the task is back in its queue, other agents first' : ''}`)
      if (out.opened) {
        log.warn({ agent: agent.agent_id, failures: out.failures },
          `circuit of agent ${agent.agent_id} opened after ${out.failures} pushes in a row that never reached it: it takes no task until a later push reaches it`)
      }
    } catch (err) {
      log.warn({ task: taskId, err: (err as Error).message }, `push of task ${taskId} failed and could not be handed back; its lease will take it back`)
    }
    this.wake()
  }

  private async failed(taskId: string, agent: AgentSlot, message: string): Promise<void> {
    const reason = `push to agent ${agent.agent_id} at ${agent.http} failed: ${message}`
    this.init.log.warn({ task: taskId, agent: agent.agent_id, err: message }, `push of task ${taskId} to agent ${agent.agent_id} failed (${message}); the task goes back to its queue or to the dead letters`)
    await this.init.tasks.report(taskId, agent.agent_id, 'retry', reason).catch(() => {})
    this.wake()
  }
}

/** An agent's answer body: JSON with an optional status and result; anything else reads as accepted. */
function parseAnswer(text: string): { status?: unknown, result?: unknown } {
  try {
    const v = JSON.parse(text) as unknown
    return typeof v === 'object' && v !== null ? v as { status?: unknown, result?: unknown } : {}
  } catch {
    return {}
  }
}
