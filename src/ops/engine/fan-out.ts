/** What one target answered, or why it did not. */
export type TargetResult<T> =
  | { ok: true, value: T, ms: number }
  | { ok: false, error: Error, timedOut: boolean, ms: number }

/**
 * Runs fn for every target with at most `concurrency` at once. Returns as
 * soon as all have answered, or when the signal fires: the targets still
 * running or never started are reported as timed out, the others keep their
 * results. Each call gets the signal so it can stop its own work.
 */
export async function fanOut<T>(
  targets: string[],
  fn: (target: string, signal: AbortSignal) => Promise<T>,
  opts: { signal: AbortSignal, concurrency: number },
): Promise<Map<string, TargetResult<T>>> {
  const results = new Map<string, TargetResult<T>>()
  const started = Date.now()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < targets.length && !opts.signal.aborted) {
      const target = targets[next++]!
      const t0 = Date.now()
      try {
        const value = await fn(target, opts.signal)
        results.set(target, { ok: true, value, ms: Date.now() - t0 })
      } catch (err) {
        results.set(target, { ok: false, error: err as Error, timedOut: opts.signal.aborted, ms: Date.now() - t0 })
      }
    }
  }
  const all = Promise.all(Array.from({ length: Math.min(opts.concurrency, targets.length) }, worker))
  await new Promise<void>((resolve) => {
    if (opts.signal.aborted) return resolve()
    const onAbort = (): void => resolve()
    opts.signal.addEventListener('abort', onAbort, { once: true })
    void all.then(() => {
      opts.signal.removeEventListener('abort', onAbort)
      resolve()
    })
  })
  for (const target of targets) {
    if (!results.has(target)) {
      results.set(target, { ok: false, error: new Error('no answer before the deadline'), timedOut: true, ms: Date.now() - started })
    }
  }
  return results
}
