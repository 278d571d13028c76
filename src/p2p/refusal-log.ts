import type { Logger } from 'pino'
import type { Refusal } from './name-bindings.js'

/** Lines logged per window; the rest of the window is only counted (a flood of invented names must not flood the log). */
const LINES_PER_WINDOW = 100
const WINDOW_MS = 60_000

/**
 * Logs refusals: a taken name or a forged sender as an error naming both ids,
 * the rest as warnings; past LINES_PER_WINDOW a minute they are counted and
 * the count is logged when the next window opens.
 */
export function refusalLogger(log: Logger): (r: Refusal) => void {
  let windowStart = 0
  let lines = 0
  return (r) => {
    const now = Date.now()
    if (now - windowStart > WINDOW_MS) {
      if (lines > LINES_PER_WINDOW) {
        log.warn({ suppressed: lines - LINES_PER_WINDOW }, `${lines - LINES_PER_WINDOW} more refusals in the last minute were counted, not logged`)
      }
      windowStart = now
      lines = 0
    }
    if (++lines > LINES_PER_WINDOW) return
    const fields = { reason: r.reason, node: r.name, peerId: r.peerId }
    if (r.reason === 'name_taken' || r.reason === 'forged_from') log.error(fields, r.message)
    else log.warn(fields, r.message)
  }
}
