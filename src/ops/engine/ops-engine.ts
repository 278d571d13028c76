import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { anySignal } from 'any-signal'
import type { Logger } from 'pino'
import type { ActionRecord, OpEvent, OpIssue, Operation, OpRecord, OpReport, OpRequest } from './op-types.js'
import { fanOut, type TargetResult } from './fan-out.js'

/** Where operations are kept so any daemon, and this one after a restart, can show them. */
export interface OpsJournal {
  save(rec: OpRecord): Promise<void>
  get(id: string): Promise<OpRecord | null>
  /** Adds a changing node action served for an operation (by any node). */
  recordAction(opId: string, rec: ActionRecord): Promise<void>
  /**
   * Marks the node's unfinished operations interrupted, but those `skip` names; returns their
   * records. Waits while the journal is unreachable, until the signal aborts.
   */
  interruptLeftovers(node: string, opts?: { signal?: AbortSignal, skip?(opId: string): boolean }): Promise<OpRecord[]>
}

/** What an operation's code gets: its deadline and a way to report progress and reach targets. */
export interface OpContext {
  /** The operation's id: node actions that change something carry it, and the serving node checks it in the journal. */
  readonly opId: string
  readonly signal: AbortSignal
  /** ms since the epoch at which the operation must have answered. */
  readonly deadlineAt: number
  progress(node: string | null, step: string, detail: string): void
  /** Runs fn for every target, at most peerConcurrency at once, until all answer or the deadline passes. */
  eachTarget<T>(targets: string[], fn: (node: string, signal: AbortSignal) => Promise<T>): Promise<Map<string, TargetResult<T>>>
}

export type OpRunner = (req: OpRequest, ctx: OpContext) => Promise<OpReport>

/** 429: every slot and the whole queue are taken. */
export class OpsBusyError extends Error {
  readonly code = 'OPS_BUSY'
}

/** Operation progress kept where every daemon can serve it (the coordinator's store implements it). */
export interface OpEventLog {
  /** Adds an entry to the operation's log; entries of one operation are appended in order. */
  append(opId: string, type: 'progress' | 'done', data: unknown): Promise<void>
}

export interface OpsEngineInit {
  node: string
  maxConcurrent: number
  maxQueued: number
  peerConcurrency: number
  defaultTimeoutMs: number
  journal: OpsJournal
  runners: Partial<Record<Operation, OpRunner>>
  /** Checks a request before it is queued (e.g. that the target exists); throws to refuse it. */
  check?(req: OpRequest): void
  /** The targets a request names, for the report of an operation that never left the queue. */
  targetsOf?(req: OpRequest): string[]
  /** Where progress is published for every daemon to serve; in order, per operation. */
  events?: OpEventLog
  log: Logger
}

interface Job {
  rec: OpRecord
  deadlineAt: number
  controller: AbortController
  resolve(rec: OpRecord): void
  /** Answers a still-queued operation at its deadline. */
  expiry: NodeJS.Timeout | null
}

/**
 * Runs operations: at most maxConcurrent at once, the rest in a bounded
 * queue, each under a hard deadline counted from its submission: one still
 * queued at its deadline answers then, as not started. Progress goes to the
 * journal and to listeners (SSE).
 */
export class OpsEngine {
  private running = 0
  private started = false
  private readonly queue: Job[] = []
  private readonly events = new EventEmitter()
  private readonly active = new Map<string, Job>()
  /** The last publish of each operation with one in flight: the next waits for it, so the stream keeps the order. */
  private readonly publishing = new Map<string, Promise<void>>()
  /** Most operations seen running at once (for tests and /metrics). */
  peakRunning = 0
  /** Ends the marking of the last run's leftovers when this run stops. */
  private recovery: AbortController | null = null
  /** Operations this run submitted before its leftovers were marked: running here, not left over. */
  private submittedBeforeRecovery: Set<string> | null = null

  constructor(private readonly init: OpsEngineInit) {
    this.events.setMaxListeners(0)
  }

  start(): void {
    if (this.started) return
    this.started = true
    // In the background: a journal that is down or starved at start (many daemons starting on
    // one machine) keeps no daemon from starting, and operations run meanwhile; the journal
    // waits until it answers, and this run's own operations are no leftovers.
    const recovery = new AbortController()
    const submitted = new Set<string>()
    this.recovery = recovery
    this.submittedBeforeRecovery = submitted
    this.interruptLeftovers(recovery.signal, submitted).catch((err: unknown) => {
      if (!recovery.signal.aborted) this.init.log.error({ err }, 'could not mark the operations cut off by the last stop interrupted')
    })
  }

  private async interruptLeftovers(signal: AbortSignal, submitted: Set<string>): Promise<void> {
    const cut = await this.init.journal.interruptLeftovers(this.init.node, { signal, skip: (id) => submitted.has(id) })
    if (this.submittedBeforeRecovery === submitted) this.submittedBeforeRecovery = null
    if (signal.aborted) return
    if (cut.length > 0) this.init.log.warn({ operations: cut.length }, 'operations cut off by the last stop are marked interrupted')
    // Whoever follows them (on any daemon) hears the end: the last event, then done without a report.
    for (const rec of cut) {
      const last = rec.events.at(-1)
      if (last !== undefined) this.publish(rec.op_id, 'progress', last)
      this.publish(rec.op_id, 'done', rec.report)
    }
  }

  /** Aborts every running and queued operation (their reports say so). */
  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    this.recovery?.abort()
    this.recovery = null
    this.submittedBeforeRecovery = null
    for (const job of [...this.active.values(), ...this.queue]) {
      if (job.expiry !== null) clearTimeout(job.expiry)
      job.controller.abort(new Error('the daemon is stopping'))
    }
  }

  get runningCount(): number {
    return this.running
  }

  get queuedCount(): number {
    return this.queue.length
  }

  /**
   * Queues an operation; `done` settles with its record once its report is in, `journalled` once its
   * first record is in the journal (never rejects: a journal failure is logged).
   */
  submit(req: OpRequest): { id: string, done: Promise<OpRecord>, journalled: Promise<void> } {
    this.init.check?.(req)
    if (this.running >= this.init.maxConcurrent && this.queue.length >= this.init.maxQueued) {
      throw new OpsBusyError(
        `${this.running} operations are running and ${this.queue.length} are waiting on ${this.init.node} (limits ${this.init.maxConcurrent} and ${this.init.maxQueued}); retry when one finishes`,
      )
    }
    const timeoutMs = req.timeout === undefined ? this.init.defaultTimeoutMs : Math.round(req.timeout * 1000)
    const now = Date.now()
    const rec: OpRecord = {
      op_id: randomUUID(), node: this.init.node, state: 'queued', request: req, created_at: new Date(now).toISOString(),
      deadline_at: now + timeoutMs, finished_at: null, report: null, events: [],
    }
    let resolve!: (r: OpRecord) => void
    const done = new Promise<OpRecord>((r) => {
      resolve = r
    })
    this.submittedBeforeRecovery?.add(rec.op_id)
    const job: Job = { rec, deadlineAt: rec.deadline_at, controller: new AbortController(), resolve, expiry: null }
    job.expiry = setTimeout(() => this.expire(job), timeoutMs)
    job.expiry.unref()
    this.active.set(rec.op_id, job)
    this.queue.push(job)
    const journalled = this.persist(rec)
    this.pump()
    return { id: rec.op_id, done, journalled }
  }

  /** The deadline came while the operation still waited for a slot: it answers now, as not started. */
  private expire(job: Job): void {
    const i = this.queue.indexOf(job)
    if (i < 0) return
    this.queue.splice(i, 1)
    const { rec } = job
    const targets = this.init.targetsOf?.(rec.request) ?? [rec.request.target_node]
    const waitedS = Math.round((Date.now() - Date.parse(rec.created_at)) / 100) / 10
    const error = `not started: it waited ${waitedS} s for one of ${this.init.maxConcurrent} operation slots on ${this.init.node} until its deadline`
    rec.report = failedReport(rec.request, this.init.node, new Error(error), targets.map((node) => ({
      node, step: 'queue', error, suggestion: 'retry when fewer operations run, or give it a longer timeout',
    })))
    rec.report.execution_time = waitedS
    rec.state = 'done'
    rec.finished_at = new Date().toISOString()
    this.persist(rec)
    this.publish(rec.op_id, 'done', rec.report)
    this.active.delete(rec.op_id)
    this.events.emit(rec.op_id, null)
    job.resolve(rec)
  }

  get(id: string): Promise<OpRecord | null> {
    const job = this.active.get(id)
    return job !== undefined ? Promise.resolve(job.rec) : this.init.journal.get(id)
  }

  /** Calls listener for every new event of a running operation; returns the unsubscribe function. */
  subscribe(id: string, listener: (e: OpEvent | null) => void): () => void {
    this.events.on(id, listener)
    return () => this.events.off(id, listener)
  }

  private publish(opId: string, type: 'progress' | 'done', data: unknown): void {
    const events = this.init.events
    if (events === undefined) return
    const prev = this.publishing.get(opId) ?? Promise.resolve()
    const next = prev
      .then(() => events.append(opId, type, data))
      .catch((err: unknown) => this.init.log.warn({ err, op: opId }, 'could not publish an operation event'))
      .finally(() => {
        if (this.publishing.get(opId) === next) this.publishing.delete(opId)
      })
    this.publishing.set(opId, next)
  }

  private persist(rec: OpRecord): Promise<void> {
    return this.init.journal.save(rec).catch((err: unknown) => this.init.log.warn({ err, op: rec.op_id }, 'could not journal an operation'))
  }

  private pump(): void {
    while (this.running < this.init.maxConcurrent && this.queue.length > 0) {
      const job = this.queue.shift()!
      if (job.expiry !== null) clearTimeout(job.expiry)
      this.running++
      this.peakRunning = Math.max(this.peakRunning, this.running)
      this.run(job)
        .catch((err: unknown) => this.init.log.error({ err, op: job.rec.op_id }, 'operation failed unexpectedly'))
        .finally(() => {
          this.running--
          this.publish(job.rec.op_id, 'done', job.rec.report)
          this.active.delete(job.rec.op_id)
          this.events.emit(job.rec.op_id, null)
          job.resolve(job.rec)
          this.pump()
        })
    }
  }

  private async run(job: Job): Promise<void> {
    const { rec } = job
    rec.state = 'running'
    // Serving nodes check changing actions against this record: it is in the journal before the first call.
    await this.init.journal.save(rec).catch((err: unknown) => this.init.log.warn({ err, op: rec.op_id }, 'could not journal an operation'))
    const started = Date.now()
    const remaining = Math.max(1, job.deadlineAt - started)
    // any-signal, not AbortSignal.any: on Node 20 a composite of composites can be collected
    // and never fire (a 1 s deadline would reach a child process only at its own 30 s timeout).
    const signal = anySignal([AbortSignal.timeout(remaining), job.controller.signal])
    const ctx: OpContext = {
      opId: rec.op_id,
      signal,
      deadlineAt: job.deadlineAt,
      progress: (node, step, detail) => {
        const e: OpEvent = { at: new Date().toISOString(), node, step, detail }
        rec.events.push(e)
        this.events.emit(rec.op_id, e)
        this.publish(rec.op_id, 'progress', e)
      },
      eachTarget: (targets, fn) => fanOut(targets, fn, { signal, concurrency: this.init.peerConcurrency }),
    }
    const runner = this.init.runners[rec.request.operation]
    let guard: NodeJS.Timeout | undefined
    try {
      if (runner === undefined) throw new Error(`no runner for ${rec.request.operation}`)
      // The hard stop: whatever a step is waiting for, the report goes out by the deadline (plus a moment to write it).
      const overrun = new Promise<never>((_, reject) => {
        guard = setTimeout(() => reject(new Error(`the operation did not finish by its deadline (${Math.round(remaining / 1000)} s); increase timeout, or see GET /ops/${rec.op_id}/events for the step it was in`)), remaining + 1000)
      })
      rec.report = await Promise.race([runner(rec.request, ctx), overrun])
    } catch (err) {
      this.init.log.error({ err, op: rec.op_id }, 'operation failed')
      rec.report = failedReport(rec.request, this.init.node, err as Error)
    } finally {
      clearTimeout(guard)
      signal.clear()
    }
    rec.report.execution_time = Math.round((Date.now() - Date.parse(rec.created_at)) / 10) / 100
    rec.state = 'done'
    rec.finished_at = new Date().toISOString()
    this.persist(rec)
  }
}

function failedReport(req: OpRequest, node: string, err: Error, issues?: OpIssue[]): OpReport {
  return {
    summary: `${req.operation} failed on ${node}: ${err.message}`,
    operation: req.operation,
    target_node: req.target_node,
    nodes_status: {},
    sync_result: 'failed',
    sync_details: { blockchain_synced: false, mempool_synced: false, configuration_synced: false, git_synced: false },
    message_delivery: { sent: 0, delivered: 0, failed: 0 },
    issues: issues ?? [{ node, step: req.operation, error: err.message, suggestion: `look at journalctl -u aitbc-node on ${node}` }],
    recommendations: [],
    confidence: 0,
    execution_time: 0,
    validation_status: 'failed',
  }
}
