import { NodeActionError } from './errors.js'

interface Waiter {
  deadlineAt: number
  grant(): void
  fail(err: NodeActionError): void
}

/**
 * The cap on node actions running at once on this node, whoever asked (its
 * own operations and peers' calls alike). Waiters are served in order; one
 * whose deadline passes while waiting is told so and never starts.
 */
export class ActionSlots {
  private running = 0
  private readonly waiting: Waiter[] = []
  /** Most actions seen running at once (for tests and /metrics). */
  peak = 0

  constructor(private readonly max: number, private readonly maxWaiting = 200) {}

  get runningCount(): number {
    return this.running
  }

  get waitingCount(): number {
    return this.waiting.length
  }

  /** Resolves with a release function once a slot is free, or rejects by the deadline. */
  acquire(deadlineAt: number, signal: AbortSignal, what: string): Promise<() => void> {
    if (this.running < this.max && this.waiting.length === 0) return Promise.resolve(this.take())
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(new NodeActionError('ERR_ACTION_BUSY', `${this.running} actions run and ${this.waiting.length} wait on this node; ${what} refused, retry later`))
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        deadlineAt,
        grant: () => {
          cleanup()
          resolve(this.take())
        },
        fail: (err) => {
          cleanup()
          reject(err)
        },
      }
      const expire = (): void => {
        const i = this.waiting.indexOf(waiter)
        if (i >= 0) this.waiting.splice(i, 1)
        waiter.fail(new NodeActionError('ERR_ACTION_DEADLINE', `${what} waited for one of ${this.max} action slots until its deadline and was not started`))
      }
      const timer = setTimeout(expire, Math.max(0, deadlineAt - Date.now()))
      signal.addEventListener('abort', expire, { once: true })
      const cleanup = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', expire)
      }
      this.waiting.push(waiter)
    })
  }

  private take(): () => void {
    this.running++
    this.peak = Math.max(this.peak, this.running)
    let released = false
    return () => {
      if (released) return
      released = true
      this.running--
      this.next()
    }
  }

  private next(): void {
    while (this.running < this.max && this.waiting.length > 0) {
      const w = this.waiting.shift()!
      if (w.deadlineAt <= Date.now()) {
        w.fail(new NodeActionError('ERR_ACTION_DEADLINE', 'its deadline passed while it waited for a slot; not started'))
        continue
      }
      w.grant()
    }
  }
}
