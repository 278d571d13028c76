import { spawn } from 'node:child_process'
import type { ProcessGroupLedger } from './process-groups.js'

/** How a command ended. */
export interface ProcessResult {
  /** Exit code, or null when it was killed or could not start. */
  code: number | null
  stdout: string
  stderr: string
  /** Set when the deadline (signal or timeout) killed the process group. */
  killed: boolean
  /** Set when the program could not be started (ENOENT, EACCES). */
  spawnError: NodeJS.ErrnoException | null
}

/**
 * Output kept per stream: the tail holds the error that ended a command,
 * and 64 KiB of it fits in an operation result without bloating the journal.
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024

export interface RunProcessOptions {
  signal: AbortSignal
  /** Kills the group after this long even if the signal has not fired. */
  timeoutMs: number
  /** Output kept per stream: the tail (default DEFAULT_MAX_OUTPUT_BYTES). */
  maxOutputBytes?: number
  /** Written to the command's stdin, which is then closed (default: no stdin). */
  input?: string
  /** Notes the group while it runs, so a daemon restarted after a crash can kill it (default: not noted). */
  groups?: ProcessGroupLedger
}

/**
 * Runs argv without a shell as the leader of a new process group; the
 * deadline (signal or timeoutMs) kills the whole group with SIGKILL, and so
 * does the leader's exit, so no child or grandchild of the command outlives
 * it. Resolves only once the process is gone.
 */
export function runProcess(argv: readonly string[], opts: RunProcessOptions): Promise<ProcessResult> {
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
  return new Promise((resolve) => {
    if (opts.signal.aborted) {
      resolve({ code: null, stdout: '', stderr: '', killed: true, spawnError: null })
      return
    }
    // detached: the child calls setsid, so its pid is the id of a new process group (and session).
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    const pgid = child.pid
    let spawnError: NodeJS.ErrnoException | null = null
    try {
      if (pgid !== undefined) opts.groups?.record(pgid, argv[0]!)
    } catch (err) {
      // A group the daemon could not note would outlive a crash unseen: it does not run.
      spawnError = err as NodeJS.ErrnoException
      try {
        process.kill(-pgid!, 'SIGKILL')
      } catch {
        // Gone already.
      }
    }
    if (opts.input !== undefined) {
      // A command that exits without reading its input closes the pipe: that is not an error.
      child.stdin?.on('error', () => {})
      child.stdin?.end(opts.input)
    }
    let stdout = ''
    let stderr = ''
    let killed = false
    const keep = (text: string, more: Buffer): string => {
      const next = text + more.toString()
      return next.length > max ? next.slice(-max) : next
    }
    child.stdout?.on('data', (b: Buffer) => {
      stdout = keep(stdout, b)
    })
    child.stderr?.on('data', (b: Buffer) => {
      stderr = keep(stderr, b)
    })
    const killGroup = (): void => {
      killed = true
      if (child.pid === undefined) return
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // The group is gone already.
      }
    }
    const timer = setTimeout(killGroup, opts.timeoutMs)
    opts.signal.addEventListener('abort', killGroup, { once: true })
    child.on('error', (err) => {
      spawnError = err
    })
    let exitCode: number | null = null
    // An action's work ends with it: what its leader left running in the group is ended too
    // (services are started through the service manager, never as our children).
    child.on('exit', (code) => {
      exitCode = code
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL')
        } catch {
          // Nothing left in the group.
        }
      }
    })
    child.on('close', () => {
      if (pgid !== undefined) opts.groups?.forget(pgid)
      clearTimeout(timer)
      opts.signal.removeEventListener('abort', killGroup)
      resolve({ code: killed ? null : exitCode, stdout, stderr, killed, spawnError })
    })
  })
}
