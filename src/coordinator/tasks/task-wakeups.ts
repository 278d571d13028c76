import type { Logger } from 'pino'
import type { RedisClient } from '../store/redis-client.js'
import { nowOrWhenRegistryAnswers } from '../store/registry-retry.js'
import type { NextResult } from '../store/task-repository.js'
import { type Task, taskFromHash } from './task.js'

/**
 * A task event from the scripts (lua/tasks, store): ready now, ready at a time,
 * assigned to a pull agent, handed to a waiting agent's poll held by one
 * daemon instance, agents changed.
 */
export type TaskEvent =
  | { kind: 'ready', requirementClass: string }
  | { kind: 'later', at: number }
  | { kind: 'assigned', agentId: string }
  | { kind: 'handed', instance: string, agentId: string, task: Task }
  | { kind: 'agents' }

export function parseTaskEvent(raw: string): TaskEvent | null {
  const bar = raw.indexOf('|')
  const tag = bar < 0 ? raw : raw.slice(0, bar)
  const rest = bar < 0 ? '' : raw.slice(bar + 1)
  if (tag === 'h') return parseHandOff(rest)
  if (tag === 'r') return { kind: 'ready', requirementClass: rest }
  if (tag === 'd' && Number.isFinite(Number(rest))) return { kind: 'later', at: Number(rest) }
  if (tag === 'a' && rest !== '') return { kind: 'assigned', agentId: rest }
  if (tag === 'g') return { kind: 'agents' }
  return null
}

function parseHandOff(rest: string): TaskEvent | null {
  const a = rest.indexOf('|')
  const b = a < 0 ? -1 : rest.indexOf('|', a + 1)
  if (b < 0) return null
  try {
    const hash = JSON.parse(rest.slice(b + 1)) as unknown
    if (typeof hash !== 'object' || hash === null || Array.isArray(hash)) return null
    const task = taskFromHash(hash as Record<string, string>)
    if (task === null) return null
    return { kind: 'handed', instance: rest.slice(0, a), agentId: rest.slice(a + 1, b), task }
  } catch {
    return null
  }
}

/**
 * Delayed wake-up times kept at once: the sorted list is searched on every
 * insert, so the bound keeps a flood of distinct run_at values cheap, while
 * far exceeding what retry backoffs produce.
 */
export const DEFAULT_MAX_TIMERS = 10_000

export interface TaskWakeupsInit {
  /** A connection of its own for SUBSCRIBE (a subscribed connection can do nothing else). */
  subscriber: RedisClient
  /** This daemon process's id in the waiting set (hand-offs name the instance that holds the poll). */
  instance: string
  /** A task was handed to an agent whose poll here had ended: it must go back to its queue. */
  onUnclaimed?(agentId: string, task: Task): void
  /** The channel (redis-keys.ts taskEvents). */
  channel: string
  /** This instance's hand-off channel (redis-keys.ts handOffs(instance)). */
  handOffChannel: string
  log: Logger
  /** Most delayed wake-up times remembered at once (default DEFAULT_MAX_TIMERS); beyond, the latest are dropped. */
  maxTimers?: number
}

/**
 * What woke a waiting long poll: a task handed to it (already claimed for
 * the agent), a ready task of a class (with the agents already tried for it),
 * or anything else.
 */
export type Wake =
  | { handedOff: Task }
  | { handedOff?: undefined, requirementClass: string, tried: ReadonlySet<string> }
  | { handedOff?: undefined, requirementClass: null }

/** What a pull agent's last claim said when it found nothing. */
export type IdleClaim = Extract<NextResult, { task: null }>

interface Waiter {
  agentId: string
  idle: IdleClaim
  since: number
  wake: (why: Wake) => void
}

/** An event kept for a moment, for claims that were on their way to Redis when it came (see wait()). */
interface Recent {
  seq: number
  event: TaskEvent | 'everyone'
}

/** How many recent events are kept; a claim that missed more than these simply looks again. */
const RECENT = 64

/**
 * Wakes long polls and distributors on every daemon the moment work appears,
 * instead of polling: the scripts publish task events on a Redis channel, and
 * each daemon holds one subscription. A ready task wakes one waiting pull
 * agent that can take its class (fewest tasks in flight first); if that agent
 * cannot take it after all, the next one is tried. A task that becomes ready
 * later (retry backoff) wakes everyone at that time.
 */
export class TaskWakeups {
  private readonly waiters = new Set<Waiter>()
  /** Numbers every event that wakes waiters; `recent` keeps the last few. */
  private seq = 0
  private readonly recent: Recent[] = []
  private readonly listeners = new Set<(e: TaskEvent) => void>()
  private readonly times: number[] = []
  private timer: NodeJS.Timeout | null = null
  private started = false

  constructor(private readonly init: TaskWakeupsInit) {}

  /** Subscribes; while Redis is away it goes on trying in the background and never fails the start. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const { subscriber, channel, log } = this.init
    subscriber.on('error', (err: Error) => log.debug({ err: err.message }, 'task event subscription: connection error'))
    subscriber.on('message', (ch: string, raw: string) => {
      if (ch !== channel && ch !== this.init.handOffChannel) return
      const event = parseTaskEvent(raw)
      if (event !== null) this.dispatch(event)
    })
    // After a reconnect events may have been missed: everyone looks again.
    subscriber.on('ready', () => {
      if (this.subscribed) this.wakeAll()
    })
    await this.subscribe()
  }

  private subscribed = false
  /** Ends the background subscribing when the wake-ups stop. */
  private retry: AbortController | null = null

  /** Subscribes now if Redis answers, else in the background; everyone looks again once subscribed. */
  private async subscribe(): Promise<void> {
    const retry = new AbortController()
    this.retry = retry
    await nowOrWhenRegistryAnswers(() => this.trySubscribe(), {
      step: 'subscribing to task events',
      meanwhile: 'long polls and distribution fall back to their timeouts',
      log: this.init.log,
      signal: retry.signal,
      forMs: Infinity,
      onLater: () => this.wakeAll(),
    })
  }

  private async trySubscribe(): Promise<void> {
    const { subscriber, channel } = this.init
    if (subscriber.status === 'wait' || subscriber.status === 'end') await subscriber.connect()
    await subscriber.subscribe(channel, this.init.handOffChannel)
    this.subscribed = true
  }

  private wakeAll(): void {
    this.note('everyone')
    for (const w of [...this.waiters]) w.wake(ANY)
    for (const l of this.listeners) l({ kind: 'agents' })
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    if (this.timer !== null) clearTimeout(this.timer)
    this.retry?.abort()
    this.timer = null
    this.retry = null
    for (const w of [...this.waiters]) w.wake(ANY)
    await this.init.subscriber.unsubscribe(this.init.channel, this.init.handOffChannel).catch(() => {})
    this.init.subscriber.disconnect()
  }

  /** Called with every event (the distributor). */
  onEvent(listener: (e: TaskEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Where the events are now: read it before a claim and hand it to wait(),
   * so that an event that came while the claim was on its way is not lost.
   */
  get sequence(): number {
    return this.seq
  }

  /**
   * Waits until something may be there for the agent (resolves with what
   * woke it) or ms pass or the signal aborts (null). `idle` is what its last
   * claim said; `since`, the sequence read before that claim: an event since
   * then that would have woken it (it came while the claim's answer was on its
   * way) wakes it at once.
   */
  wait(agentId: string, idle: IdleClaim, ms: number, signal?: AbortSignal, since?: number): Promise<Wake | null> {
    return new Promise((resolve) => {
      if (signal?.aborted === true || ms <= 0) {
        resolve(null)
        return
      }
      const missed = since === undefined ? null : this.missed(agentId, idle, since)
      if (missed !== null) {
        resolve(missed)
        return
      }
      const finish = (why: Wake | null): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.waiters.delete(waiter)
        resolve(why)
      }
      const onAbort = (): void => finish(null)
      const waiter: Waiter = { agentId, idle, since: Date.now(), wake: (why) => finish(why) }
      const timer = setTimeout(() => finish(null), ms)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.add(waiter)
    })
  }

  /** Waiting long polls (for metrics and tests). */
  get waiting(): number {
    return this.waiters.size
  }

  /** A woken agent that could not take the work passes the wake-up on. */
  passOn(requirementClass: string, tried: ReadonlySet<string>): void {
    this.wakeOneFor(requirementClass, tried)
  }

  /** This daemon process's id, for next() (the waiting set names who holds each poll). */
  get instance(): string {
    return this.init.instance
  }

  /** What would have woken the agent (whose last claim said `idle`) since `since`, or null. */
  private missed(agentId: string, idle: IdleClaim, since: number): Wake | null {
    if (since === this.seq) return null
    // Older than what is kept: look again to be sure.
    if (this.recent.length === 0 || this.recent[0]!.seq > since + 1) return ANY
    for (const r of this.recent) {
      if (r.seq <= since) continue
      const e = r.event
      if (e === 'everyone') return ANY
      if (e.kind === 'ready' && mayTake(idle, e.requirementClass)) return { requirementClass: e.requirementClass, tried: new Set() }
      if (e.kind === 'assigned' && e.agentId === agentId) return ANY
      if (e.kind === 'agents' && idle.why !== 'empty') return ANY
    }
    return null
  }

  private note(event: Recent['event']): void {
    this.recent.push({ seq: ++this.seq, event })
    if (this.recent.length > RECENT) this.recent.shift()
  }

  private dispatch(event: TaskEvent): void {
    for (const l of this.listeners) l(event)
    if (event.kind === 'ready' || event.kind === 'assigned' || event.kind === 'agents') this.note(event)
    switch (event.kind) {
      case 'handed': {
        if (event.instance !== this.init.instance) break
        let first: Waiter | null = null
        for (const w of this.waiters) if (w.agentId === event.agentId && (first === null || w.since < first.since)) first = w
        if (first !== null) first.wake({ handedOff: event.task })
        else this.init.onUnclaimed?.(event.agentId, event.task)
        break
      }
      case 'ready':
        this.wakeOneFor(event.requirementClass, new Set())
        break
      case 'assigned':
        for (const w of [...this.waiters]) if (w.agentId === event.agentId) w.wake(ANY)
        break
      case 'later':
        this.remember(event.at)
        break
      case 'agents':
        // A strategy change or an agent's status: waiters whose claim said "not now" look again.
        for (const w of [...this.waiters]) if (w.idle.why !== 'empty') w.wake(ANY)
        break
    }
  }

  private wakeOneFor(requirementClass: string, tried: ReadonlySet<string>): void {
    let best: Waiter | null = null
    for (const w of this.waiters) {
      if (tried.has(w.agentId) || !mayTake(w.idle, requirementClass)) continue
      const better = best === null || w.idle.inFlight < best.idle.inFlight ||
        (w.idle.inFlight === best.idle.inFlight && w.since < best.since)
      if (better) best = w
    }
    best?.wake({ requirementClass, tried })
  }

  /** Keeps the delayed ready times, waking every waiter (and listener) at each. */
  private remember(at: number): void {
    const max = this.init.maxTimers ?? DEFAULT_MAX_TIMERS
    let i = this.times.findIndex((t) => t >= at)
    if (i < 0) i = this.times.length
    if (this.times[i] !== undefined && this.times[i]! - at < 5) return
    if (this.times.length >= max && i >= this.times.length) return
    this.times.splice(i, 0, at)
    if (this.times.length > max) this.times.pop()
    this.arm()
  }

  private arm(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    const first = this.times[0]
    if (first === undefined || !this.started) return
    this.timer = setTimeout(() => {
      this.timer = null
      const now = Date.now()
      while (this.times.length > 0 && this.times[0]! <= now + 2) this.times.shift()
      this.note('everyone')
      for (const w of [...this.waiters]) w.wake(ANY)
      for (const l of this.listeners) l({ kind: 'ready', requirementClass: '' })
      this.arm()
    }, Math.max(0, first - Date.now()))
    this.timer.unref()
  }
}

const ANY: Wake = { requirementClass: null }

/** Whether a waiting agent could take a task of the class, from what its last claim said. */
function mayTake(idle: IdleClaim, requirementClass: string): boolean {
  if (idle.why === 'strategy') return false
  if (idle.why !== 'empty') return true
  // A class it was not told of is new: it may be able to take it.
  return idle.can.includes(requirementClass) || !idle.cannot.includes(requirementClass)
}
