import { runProcess } from '../ops/local/run-process.js'
import type { Processor } from './agent-worker.js'

/**
 * A processor that runs a command per task, for agents not written in
 * TypeScript: task_data goes to its stdin as JSON; its stdout is the result
 * (parsed as JSON when it is JSON, else the text); exit code other than 0
 * fails the task with the tail of stderr. The task's deadline kills the
 * command's whole process group.
 */
export function execProcessor(argv: readonly string[]): Processor {
  return async (task, { signal }) => {
    const r = await runProcess(argv, { signal, timeoutMs: task.timeout_ms, input: JSON.stringify(task.task_data) })
    if (r.spawnError !== null) throw new Error(`${argv[0]} cannot be run: ${r.spawnError.message}`)
    if (r.killed) throw new Error(`${argv[0]} was killed at the task's deadline; stderr: ${r.stderr.trim().slice(-2000)}`)
    if (r.code !== 0) throw new Error(`${argv[0]} exited with ${r.code}: ${r.stderr.trim().slice(-2000) || '(no stderr)'}`)
    const out = r.stdout.trim()
    try {
      return JSON.parse(out) as unknown
    } catch {
      return out
    }
  }
}
