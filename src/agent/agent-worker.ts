import { EventEmitter, setMaxListeners } from 'node:events'
import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { type AgentTask, CoordinatorApiError, CoordinatorClient } from './coordinator-client.js'
import {
  DEFAULT_CLOSE_TIMEOUT_MS, DEFAULT_CONCURRENCY, DEFAULT_POLL_WAIT_MS, DEFAULT_STALE_AFTER_MS, DEFAULT_TASK_TIMEOUT_MS,
  MAX_HEARTBEAT_MS,
} from './defaults.js'
import { type PushServer, startPushServer } from './push-server.js'

/** What the agent registers as (seed 001's fields). */
export interface AgentRegistration {
  agent_id: string
  agent_type: string
  capabilities?: string[]
  services?: string[]
  endpoints?: Record<string, string>
  /** capacity (tasks at once) defaults to the worker's concurrency; region is used by the geographic strategy. */
  metadata?: Record<string, unknown>
}

/** Runs one task; its return value (JSON) is the result. Throwing fails the task (retried unless UnrecoverableError). */
export type Processor = (task: AgentTask, ctx: { signal: AbortSignal }) => unknown

/** Thrown by a processor for a task that must not be retried: it is failed for good. */
export class UnrecoverableError extends Error {
  readonly code = 'ERR_UNRECOVERABLE'
}

export interface AgentWorkerInit {
  /** Daemon API URLs (any daemon of the cluster); the worker fails over between them. */
  urls: string[]
  /** Bearer token with the agent scope. */
  token?: string
  registration: AgentRegistration
  processor: Processor
  /** Tasks run at once (default metadata.capacity, else DEFAULT_CONCURRENCY). */
  concurrency?: number
  /** Heartbeat period (default: a third of the stale interval the daemon states at registration, at most MAX_HEARTBEAT_MS). */
  heartbeatMs?: number
  /** How long one long poll waits for a task (default DEFAULT_POLL_WAIT_MS). */
  pollWaitMs?: number
  /** Serve seed 001's push (POST /tasks/execute) on this address instead of polling. */
  push?: { port: number, host?: string, publicUrl?: string }
  /** How long close() waits for running tasks before leaving them to their lease (default DEFAULT_CLOSE_TIMEOUT_MS). */
  closeTimeoutMs?: number
}

/** The worker's events, like BullMQ's Worker. */
export interface AgentWorkerEvents {
  ready: []
  active: [task: AgentTask]
  completed: [task: AgentTask, result: unknown]
  failed: [task: AgentTask, error: Error]
  drained: []
  /** The first failure of an outage (no daemon answered); one per outage, not one per failed request. */
  error: [error: Error]
  /** A daemon answered again after an outage that 'error' announced. */
  recovered: []
  closed: []
}

type Outcome = { ok: true, result: unknown } | { ok: false, error: Error, retryable: boolean }

/**
 * An agent in ten lines: registers, heartbeats with load metrics, takes
 * tasks by long poll (completing one and fetching the next in the same
 * round trip) or by push, runs them with the given concurrency, and reports
 * each result or failure exactly once. It fails over between daemons and
 * re-registers when the registry lost it. close() stops taking work, lets
 * running tasks finish (up to closeTimeoutMs; any still running then are
 * left to their lease, never reported), and marks the agent inactive.
 */
export class AgentWorker extends EventEmitter<AgentWorkerEvents> {
  private readonly client: CoordinatorClient
  private readonly concurrency: number
  private readonly stopPolling = new AbortController()
  private readonly running = new Map<string, AbortController>()
  private loops: Promise<void>[] = []
  private heartbeat: NodeJS.Timeout | null = null
  private push: PushServer | null = null
  private closing: Promise<void> | null = null
  private drainedSent = false
  /** When the outage that 'error' announced began (performance.now()), or null while daemons answer. */
  private outageSince: number | null = null

  constructor(private readonly init: AgentWorkerInit) {
    super()
    // Each pull loop (one per slot of concurrency) waits on it: no leak warning past ten.
    setMaxListeners(Infinity, this.stopPolling.signal)
    const capacity = Number(init.registration.metadata?.capacity)
    this.concurrency = init.concurrency ?? (Number.isInteger(capacity) && capacity > 0 ? capacity : DEFAULT_CONCURRENCY)
    this.client = new CoordinatorClient({ urls: init.urls, token: init.token })
  }

  /** The daemon URL in use now. */
  get url(): string {
    return this.client.url
  }

  get agentId(): string {
    return this.init.registration.agent_id
  }

  /** Tasks running now. */
  get activeCount(): number {
    return this.running.size
  }

  /** Registers and starts taking tasks; resolves once registered. */
  async run(): Promise<void> {
    if (this.init.push !== undefined) {
      this.push = await startPushServer({ ...this.init.push, accept: (task) => this.acceptPush(task) })
    }
    const staleAfterMs = await this.retrying(() => this.register())
    const stale = staleAfterMs ?? DEFAULT_STALE_AFTER_MS
    const every = this.init.heartbeatMs ?? Math.max(100, Math.min(MAX_HEARTBEAT_MS, Math.floor(stale / 3)))
    this.heartbeat = setInterval(() => void this.beat(), every)
    if (this.push === null) this.loops = Array.from({ length: this.concurrency }, () => this.pullLoop())
    this.emit('ready')
  }

  /** Stops taking work, lets running tasks finish (see the class comment), marks the agent inactive. */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    this.stopPolling.abort()
    await this.push?.close()
    const finished = Promise.all(this.loops).then(() => this.idle())
    const timeout = this.init.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS
    let timer: NodeJS.Timeout | undefined
    await Promise.race([finished, new Promise((r) => (timer = setTimeout(r, timeout)))])
    clearTimeout(timer)
    // Still running: abort the processors; the tasks are not reported and go back when their lease ends.
    for (const c of this.running.values()) c.abort(new Error('the worker closed'))
    if (this.heartbeat !== null) clearInterval(this.heartbeat)
    await this.client.request('PUT', `/agents/${encodeURIComponent(this.agentId)}/status`, { status: 'inactive' })
      .catch((err: unknown) => this.warn(err as Error))
    this.emit('closed')
  }

  private async idle(): Promise<void> {
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 20))
  }

  /** Registers; returns the stale interval the daemon states, if it does. */
  private async register(): Promise<number | undefined> {
    const reg = this.init.registration
    const endpoints = this.push === null ? reg.endpoints ?? {} : { ...reg.endpoints, http: this.push.url }
    const res = await this.client.request('POST', '/agents/register', {
      agent_id: reg.agent_id,
      agent_type: reg.agent_type,
      capabilities: reg.capabilities ?? [],
      services: reg.services ?? [],
      endpoints,
      metadata: { capacity: this.concurrency, ...reg.metadata },
      load_metrics: this.load(),
    })
    const stale = Number(res.body?.stale_after_ms)
    return Number.isFinite(stale) && stale > 0 ? stale : undefined
  }

  private load(): Record<string, number> {
    return {
      cpu_usage: Math.min(100, Math.round((loadavg()[0]! / Math.max(1, cpus().length)) * 100)),
      memory_usage: Math.round((1 - freemem() / totalmem()) * 100),
      active_tasks: this.running.size,
    }
  }

  private async beat(): Promise<void> {
    const sent = performance.now()
    try {
      await this.client.request('POST', `/agents/${encodeURIComponent(this.agentId)}/heartbeat`, { load_metrics: this.load() })
      this.answered(sent)
    } catch (err) {
      // The registry lost us (removed after a long outage, or a fresh Redis): register again.
      if (err instanceof CoordinatorApiError && err.code === 'AGENT_NOT_FOUND') await this.register().catch(() => undefined)
      else this.reportError(err as Error)
    }
  }

  private async pullLoop(): Promise<void> {
    const signal = this.stopPolling.signal
    let backoff = 250
    while (!signal.aborted) {
      let task: AgentTask | null
      const sent = performance.now()
      try {
        const wait = this.init.pollWaitMs ?? DEFAULT_POLL_WAIT_MS
        const res = await this.client.request('GET', `/agents/${encodeURIComponent(this.agentId)}/tasks/next?wait_ms=${wait}`, undefined, { waitMs: wait, signal })
        task = (res.body?.task as AgentTask | undefined) ?? null
        backoff = 250
        this.answered(sent)
      } catch (err) {
        if (signal.aborted) return
        if (err instanceof CoordinatorApiError && err.code === 'AGENT_NOT_FOUND') await this.register().catch(() => undefined)
        else this.reportError(err as Error)
        await new Promise((r) => setTimeout(r, backoff))
        backoff = Math.min(5000, backoff * 2)
        continue
      }
      if (task === null) {
        if (this.running.size === 0 && !this.drainedSent) {
          this.drainedSent = true
          this.emit('drained')
        }
        continue
      }
      // One round trip per task: the report of one brings the next.
      while (task !== null) {
        const outcome = await this.execute(task)
        task = await this.report(task, outcome, !signal.aborted)
      }
    }
  }

  private async execute(task: AgentTask): Promise<Outcome> {
    this.drainedSent = false
    const controller = new AbortController()
    this.running.set(task.task_id, controller)
    this.emit('active', task)
    // Give up a moment before the lease ends, so the failure is reported while the task is still ours.
    const leaseLeft = task.lease_until === null ? task.timeout_ms : Date.parse(task.lease_until) - Date.now()
    const budget = Math.max(1, Math.min(task.timeout_ms, leaseLeft) - 250)
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => {
        controller.abort(new Error(`timed out after ${budget} ms`))
        resolve({ ok: false, error: new Error(`the processor did not finish within the task's timeout (${budget} ms)`), retryable: true })
      }, budget)
    })
    const ran = (async (): Promise<Outcome> => {
      try {
        const value = await this.init.processor(task, { signal: controller.signal })
        return { ok: true, result: asJson(value) }
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err))
        return { ok: false, error, retryable: !(err instanceof UnrecoverableError) && (err as { code?: string }).code !== 'ERR_NOT_JSON' }
      }
    })()
    try {
      return await Promise.race([ran, timedOut])
    } finally {
      clearTimeout(timer)
      this.running.delete(task.task_id)
    }
  }

  /**
   * Reports an outcome once; a network failure is retried (on any daemon)
   * until the lease ends, after which the lease hands the task on. A 409
   * (finished already, taken back, another agent's) is final: never reported
   * twice. Returns the next task when one came with the completion.
   */
  private async report(task: AgentTask, outcome: Outcome, wantNext: boolean): Promise<AgentTask | null> {
    const id = encodeURIComponent(task.task_id)
    const until = task.lease_until === null ? Date.now() + 60_000 : Date.parse(task.lease_until)
    let backoff = 100
    let uncertain = false
    for (;;) {
      const sent = performance.now()
      try {
        if (outcome.ok) {
          const res = await this.client.request('POST', `/tasks/${id}/complete${wantNext ? '?next=1' : ''}`, { agent_id: this.agentId, result: outcome.result })
          this.answered(sent)
          this.emit('completed', task, outcome.result)
          return (res.body?.next_task as AgentTask | null | undefined) ?? null
        }
        await this.client.request('POST', `/tasks/${id}/fail`, { agent_id: this.agentId, error: outcome.error.message.slice(0, 10_000) || 'failed', retryable: outcome.retryable })
        this.answered(sent)
        this.emit('failed', task, outcome.error)
        return null
      } catch (err) {
        if (err instanceof CoordinatorApiError) {
          // After a lost answer, "already finished" may be our own earlier report landing: ask the registry.
          if ((uncertain || err.afterFailover) && err.code === 'TASK_ALREADY_FINISHED' && await this.landed(task, outcome.ok)) {
            if (outcome.ok) this.emit('completed', task, outcome.result)
            else this.emit('failed', task, outcome.error)
          } else this.warn(err)
          return null
        }
        uncertain = true
        this.reportError(err as Error)
        if (Date.now() + backoff >= until) return null
        await new Promise((r) => setTimeout(r, backoff))
        backoff = Math.min(2000, backoff * 2)
      }
    }
  }

  /**
   * Whether the registry holds this agent's report of the task (completed, or
   * failed/dead/requeued). Asked again for a few seconds while no daemon
   * answers: right after a daemon is lost, "unknown" is not "no".
   */
  private async landed(task: AgentTask, completed: boolean): Promise<boolean> {
    for (let attempt = 0, backoff = 100; attempt < 6; attempt++, backoff *= 2) {
      const res = await this.client.request('GET', `/tasks/${encodeURIComponent(task.task_id)}`).catch((err: unknown) =>
        err instanceof CoordinatorApiError ? err : null)
      if (res instanceof CoordinatorApiError) return false
      const now = res?.body?.task as { state?: string, agent_id?: string | null } | undefined
      if (now !== undefined) {
        return completed ? now.state === 'completed' && now.agent_id === this.agentId : now.state !== 'assigned' && now.state !== 'running'
      }
      await new Promise((r) => setTimeout(r, backoff))
    }
    return false
  }

  /** A pushed task: checked with the coordinator (it must be assigned to us), then run and reported. */
  private async acceptPush(task: AgentTask): Promise<'accepted' | 'busy' | 'not-ours'> {
    if (this.closing !== null || this.running.size >= this.concurrency) return 'busy'
    const current = await this.client.request('GET', `/tasks/${encodeURIComponent(task.task_id)}`).catch(() => null)
    const state = current?.body?.task as { agent_id?: string, state?: string, timeout_ms?: number } | undefined
    if (state?.agent_id !== this.agentId || (state.state !== 'assigned' && state.state !== 'running')) return 'not-ours'
    const full: AgentTask = { ...task, timeout_ms: task.timeout_ms ?? state.timeout_ms ?? DEFAULT_TASK_TIMEOUT_MS }
    void this.execute(full).then((outcome) => this.report(full, outcome, false))
    return 'accepted'
  }

  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    let backoff = 250
    for (;;) {
      const sent = performance.now()
      try {
        const value = await fn()
        this.answered(sent)
        return value
      } catch (err) {
        if (err instanceof CoordinatorApiError) throw err
        this.reportError(err as Error)
        await new Promise((r) => setTimeout(r, backoff))
        backoff = Math.min(5000, backoff * 2)
      }
    }
  }

  /**
   * One 'error' event per outage, not one per failed request. A failure
   * opens an outage; only an answer to a request sent after it began closes
   * it: a long poll sent before a daemon stopped can still come back empty
   * while it drains, which proves nothing about the outage.
   */
  private reportError(err: Error): void {
    if (this.outageSince !== null) return
    this.outageSince = performance.now()
    this.warn(err)
  }

  /** A daemon answered a request sent at `sent`: an outage that began before that is over. */
  private answered(sent: number): void {
    if (this.outageSince === null || sent < this.outageSince) return
    this.outageSince = null
    this.emit('recovered')
  }

  /** An 'error' event; without a listener a warning on stderr instead of a crash. */
  private warn(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err)
    else process.stderr.write(`aitbc agent ${this.agentId}: ${err.message}\n`)
  }
}

/** The result as it will be stored: JSON, or a non-retryable failure saying why not. */
function asJson(value: unknown): unknown {
  if (value === undefined) return null
  try {
    return JSON.parse(JSON.stringify(value)) as unknown
  } catch (err) {
    throw Object.assign(new Error(`the result is not JSON: ${(err as Error).message}`), { code: 'ERR_NOT_JSON' })
  }
}
