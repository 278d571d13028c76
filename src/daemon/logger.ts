import { type DestinationStream, type Level, type Logger, pino } from 'pino'

/** The root logger and the component children made from it, so SIGHUP can change every level at once. */
export interface LogRoot {
  readonly root: Logger
  /** A child logger for one component, e.g. `component('coordinator:http')`. */
  component(name: string): Logger
  /** Sets the level of the root and of every child made so far. */
  setLevel(level: Level | 'silent'): void
}

const REDACT = [
  'token',
  '*.token',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'config.auth.tokens[*].token',
]

export function createLogRoot(level: Level | 'silent', destination?: DestinationStream): LogRoot {
  const root = pino(
    { level, base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' } },
    destination ?? pino.destination({ dest: 1, sync: true }),
  )
  const children: Logger[] = []
  return {
    root,
    component(name) {
      const child = root.child({ component: name })
      children.push(child)
      return child
    },
    setLevel(next) {
      root.level = next
      for (const c of children) c.level = next
    },
  }
}
