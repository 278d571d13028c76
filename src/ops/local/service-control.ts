import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Runs `<manager> <verb> <service>` without a shell; the signal kills it. */
export async function controlService(
  manager: string,
  verb: 'restart' | 'start' | 'is-active',
  service: string,
  signal: AbortSignal,
): Promise<{ ok: boolean, output: string }> {
  try {
    const { stdout, stderr } = await run(manager, [verb, service], { signal, timeout: 60_000 })
    return { ok: true, output: `${stdout}${stderr}`.trim() }
  } catch (err) {
    const e = err as { stdout?: string, stderr?: string, message: string }
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message }
  }
}

/** Runs an allowlisted action's command line (argv, no shell) with its own timeout and the signal. */
export async function runAction(
  command: string[],
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ ok: boolean, exit_code: number | null, output: string }> {
  try {
    const { stdout, stderr } = await run(command[0]!, command.slice(1), { signal, timeout: timeoutMs, maxBuffer: 1024 * 1024 })
    return { ok: true, exit_code: 0, output: `${stdout}${stderr}`.trim().slice(-4000) }
  } catch (err) {
    const e = err as { code?: unknown, stdout?: string, stderr?: string, message: string }
    return {
      ok: false,
      exit_code: typeof e.code === 'number' ? e.code : null,
      output: (`${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message).slice(-4000),
    }
  }
}
