import type { ProcessGroupLedger } from './process-groups.js'
import { runProcess } from './run-process.js'

/** What a git sync did on one node. */
export interface GitSyncResult {
  state: 'up-to-date' | 'fast-forwarded' | 'ahead' | 'conflict' | 'not-configured'
  /** `git log --oneline -1` after the sync. */
  head: string | null
  detail: string
}

/** A git step that failed, with git's own words. */
export class GitError extends Error {
  readonly code = 'ERR_GIT'
}

async function git(dir: string, args: string[], signal: AbortSignal, groups?: ProcessGroupLedger): Promise<string> {
  const r = await runProcess(['git', '-C', dir, ...args], { signal, timeoutMs: 60_000, groups })
  if (r.killed) throw new GitError(`git ${args[0]} in ${dir} was stopped at the deadline`)
  if (r.spawnError !== null) throw new GitError(`git cannot be run: ${r.spawnError.message}`)
  if (r.code !== 0) throw new GitError(`git ${args.join(' ')} in ${dir} failed (exit ${r.code}): ${r.stderr.trim().slice(-500)}`)
  return r.stdout.trim()
}

/** `git log --oneline -1` in dir, or null when it is not a repository (or git is missing). */
export async function gitHead(dir: string | null, signal: AbortSignal, groups?: ProcessGroupLedger): Promise<string | null> {
  if (dir === null) return null
  return git(dir, ['log', '--oneline', '-1'], signal, groups).then((h) => h || null, () => null)
}

/**
 * git fetch, then fast-forward only. A dirty or diverged tree is reported as
 * a conflict for manual resolution and never touched (no reset, no merge
 * commit). Aborting the signal kills the git process.
 */
export async function syncGit(
  dir: string | null,
  signal: AbortSignal,
  apply = true,
  groups?: ProcessGroupLedger,
): Promise<GitSyncResult> {
  if (dir === null) return { state: 'not-configured', head: null, detail: 'ops.gitDir is not set on this node' }
  await git(dir, ['fetch', '--quiet'], signal, groups)
  const dirty = await git(dir, ['status', '--porcelain', '--untracked-files=no'], signal, groups)
  const head = async (): Promise<string> => git(dir, ['log', '--oneline', '-1'], signal, groups)
  const counts = (await git(dir, ['rev-list', '--left-right', '--count', 'HEAD...@{u}'], signal, groups)).split(/\s+/).map(Number)
  const [ahead = 0, behind = 0] = counts
  if (ahead > 0 && behind > 0) {
    return { state: 'conflict', head: await head(), detail: `diverged: ${ahead} local and ${behind} upstream commits; resolve by hand (nothing was changed)` }
  }
  if (behind > 0 && dirty !== '') {
    return { state: 'conflict', head: await head(), detail: `uncommitted changes in ${dir} and ${behind} upstream commits; commit or stash them by hand (nothing was changed)` }
  }
  if (behind > 0) {
    if (!apply) return { state: 'up-to-date', head: await head(), detail: `${behind} upstream commits not applied (check only)` }
    await git(dir, ['merge', '--ff-only', '--quiet', '@{u}'], signal, groups)
    return { state: 'fast-forwarded', head: await head(), detail: `fast-forwarded ${behind} commits` }
  }
  if (ahead > 0) return { state: 'ahead', head: await head(), detail: `${ahead} local commits not upstream` }
  return { state: 'up-to-date', head: await head(), detail: dirty === '' ? 'clean' : 'uncommitted changes, nothing to pull' }
}
