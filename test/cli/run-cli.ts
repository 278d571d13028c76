import { runCli } from '../../src/cli/program.js'

/** What one in-process run of the CLI printed and how it ended. */
export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** Runs `aitbc-node ...args` in this process, as the binary would, with its output captured. */
export async function cliRun(args: string[]): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const io = {
    out: (s: string) => {
      stdout += s
    },
    err: (s: string) => {
      stderr += s
    },
    exitCode: 0,
  }
  const { code } = await runCli([process.execPath, 'aitbc-node', ...args], io)
  return { code, stdout, stderr }
}
