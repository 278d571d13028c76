import type { Command } from 'commander'
import type { ApiTarget } from './api-client.js'

/**
 * Where a command's output and exit code go: the process's streams in the
 * binary, strings in the in-process tests (test/cli), which run the same
 * program without spawning it.
 */
export interface CliIo {
  /** Writes to standard output. */
  out(text: string): void
  /** Writes to standard error. */
  err(text: string): void
  /** The exit code of a command that ended normally (an operation's seed exit code). */
  exitCode: number
}

/** What a client command works with: the daemon it talks to, --json and its output. */
export interface Target extends ApiTarget {
  /** Every --url given, in order (agent run fails over between them; other commands use the last). */
  urls: string[]
  /** --json: print the API's answer as JSON instead of text. */
  json: boolean
  /** Where the command writes. */
  io: CliIo
}

/** Resolves a command's target from its options and the global ones. */
export type TargetOf = (cmd: Command) => Target

/** The API's answer as JSON with --json, else the human text. */
export function print(t: Target, body: unknown, human: () => string): void {
  t.io.out(`${t.json ? JSON.stringify(body, null, 2) : human()}\n`)
}

/** The output of the binary: the process's own streams. */
export function processIo(): CliIo {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    exitCode: 0,
  }
}
