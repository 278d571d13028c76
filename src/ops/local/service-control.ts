import type { ProcessGroupLedger } from './process-groups.js'
import { runProcess } from './run-process.js'

/** Runs `<manager> <verb> <service>` without a shell; the deadline kills its whole process group. */
export async function controlService(
  manager: string,
  verb: 'restart' | 'start' | 'is-active',
  service: string,
  signal: AbortSignal,
  groups?: ProcessGroupLedger,
): Promise<{ ok: boolean, output: string }> {
  const r = await runProcess([manager, verb, service], { signal, timeoutMs: 60_000, groups })
  const output = `${r.stdout}${r.stderr}`.trim()
  if (r.spawnError !== null) return { ok: false, output: `${manager} cannot be run: ${r.spawnError.message}` }
  if (r.killed) return { ok: false, output: `${manager} ${verb} ${service} was stopped at the deadline${output === '' ? '' : `: ${output}`}` }
  return { ok: r.code === 0, output: output.slice(-4000) }
}

/** Runs an allowlisted action's command line (argv, no shell) under its own timeout and the deadline. */
export async function runAction(
  command: readonly string[],
  timeoutMs: number,
  signal: AbortSignal,
  groups?: ProcessGroupLedger,
): Promise<{ ok: boolean, exit_code: number | null, output: string }> {
  const r = await runProcess(command, { signal, timeoutMs, groups })
  const output = `${r.stdout}${r.stderr}`.trim()
  if (r.spawnError !== null) {
    return { ok: false, exit_code: null, output: `${command[0]} cannot be run: ${r.spawnError.code === 'EACCES' ? 'permission denied' : r.spawnError.message}` }
  }
  if (r.killed) return { ok: false, exit_code: null, output: `killed at the deadline with its process group${output === '' ? '' : `; output: ${output.slice(-3800)}`}` }
  return { ok: r.code === 0, exit_code: r.code, output: output.slice(-4000) }
}
