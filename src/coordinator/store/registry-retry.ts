import { setTimeout as sleep } from 'node:timers/promises'
import { anySignal } from 'any-signal'
import type { Logger } from 'pino'
import { isRedisConnectionError } from '../errors.js'

/** The wait after the first failed attempt; it doubles per attempt. */
export const FIRST_RETRY_MS = 100

/** The longest wait between two attempts: as often as the client's own reconnects (redis-connection.ts). */
export const MAX_RETRY_MS = 2000

/**
 * How long a bounded step keeps retrying. Many daemons starting at once on a
 * small machine starve a shared Redis for a few command timeouts (2 s each),
 * and a restarting Redis replays its AOF before it answers; a minute rides
 * out both, while a wrong redis.url is still reported within that minute.
 */
export const DEFAULT_RETRY_FOR_MS = 60_000

/** What to retry, how long, and where to say so. */
export interface RegistryRetryInit {
  /** What the step does, for the log and the error: "loading the outbox of undelivered messages". */
  step: string
  /** Where the one warning (and the recovery) is logged. */
  log: Logger
  /** Ends the wait (the service stops): the call rejects with the signal's reason. */
  signal?: AbortSignal
  /** How long to retry (default DEFAULT_RETRY_FOR_MS); Infinity: until Redis answers or the signal aborts. */
  forMs?: number
}

/** A start step the daemon can run without, and what it lacks until the step is done. */
export interface LaterStepInit extends RegistryRetryInit {
  /** What the daemon lacks until then, for the log if the step fails for good: "the next start tries again". */
  meanwhile: string
  /** Runs once the step is done in the background. */
  onLater?(): void
}

/** A bounded step still found Redis away when its time was up. */
export class RegistryNotAnsweringError extends Error {
  readonly code = 'ERR_REGISTRY_NOT_ANSWERING'

  constructor(step: string, forMs: number, cause: unknown) {
    super(`the Redis registry did not answer within ${seconds(forMs)} s while ${step}: check redis.url and that redis-server runs`, { cause })
    this.name = 'RegistryNotAnsweringError'
  }
}

/**
 * Runs fn, and again while it fails because Redis is unreachable, refused the
 * command or timed it out (a starved or (re)connecting Redis): waits 100 ms
 * doubling to 2 s, each with jitter so that daemons started together do not
 * retry together. Logs one warning at the first such failure. Any other error
 * is thrown at once; past forMs, RegistryNotAnsweringError naming the step.
 */
export function retryWhileRegistryAway<T>(fn: () => Promise<T>, init: RegistryRetryInit): Promise<T> {
  return retry(fn, init)
}

/**
 * Runs a start step the daemon can run without: now, and while Redis is away,
 * again in the background (as retryWhileRegistryAway) while the start goes on.
 * Resolves once the step is done or left to the background; never rejects: a
 * step that fails for good is logged with what the daemon lacks.
 */
export function nowOrWhenRegistryAnswers(fn: () => Promise<void>, init: LaterStepInit): Promise<void> {
  const { step, log, signal } = init
  let later = false
  return new Promise((resolve) => {
    retry(fn, init, () => {
      later = true
      resolve()
    })
      .then(() => {
        if (later) init.onLater?.()
      })
      .catch((err: unknown) => {
        if (signal?.aborted !== true) log.warn({ err, step }, `${step} failed: ${init.meanwhile}`)
      })
      .finally(resolve)
  })
}

/** The loop of both; onWaiting runs once, when the first attempt failed and the retries begin. */
async function retry<T>(fn: () => Promise<T>, init: RegistryRetryInit, onWaiting?: () => void): Promise<T> {
  const { step, log, signal } = init
  const forMs = init.forMs ?? DEFAULT_RETRY_FOR_MS
  const bound = Number.isFinite(forMs) ? AbortSignal.timeout(forMs) : undefined
  const waits = anySignal([signal, bound])
  const started = performance.now()
  try {
    for (let attempt = 1, delay = FIRST_RETRY_MS; ; attempt++, delay = Math.min(MAX_RETRY_MS, delay * 2)) {
      signal?.throwIfAborted()
      try {
        const result = await fn()
        if (attempt > 1) log.info({ step, attempts: attempt, waited_ms: Math.round(performance.now() - started) }, `Redis registry answered; ${step}: done`)
        return result
      } catch (err) {
        if (!isRedisConnectionError(err)) throw err
        if (bound?.aborted === true) throw new RegistryNotAnsweringError(step, forMs, err)
        if (attempt === 1) {
          const how = bound === undefined ? 'in the background until it answers' : `for up to ${seconds(forMs)} s`
          log.warn({ step, err: (err as Error).message }, `Redis registry not answering while ${step}; retrying ${how}: check redis.url and that redis-server runs`)
          onWaiting?.()
        }
        await sleep(delay / 2 + Math.random() * (delay / 2), undefined, { signal: waits }).catch((e: unknown) => {
          signal?.throwIfAborted()
          throw bound?.aborted === true ? new RegistryNotAnsweringError(step, forMs, err) : e
        })
      }
    }
  } finally {
    waits.clear()
  }
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10
}
