import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** What a git sync did on one node. */
export interface GitSyncResult {
  state: 'up-to-date' | 'fast-forwarded' | 'ahead' | 'conflict' | 'not-configured'
  /** `git log --oneline -1` after the sync. */
  head: string | null
  detail: string
}

async function git(dir: string, args: string[], signal: AbortSignal): Promise<string> {
  const { stdout } = await run('git', ['-C', dir, ...args], { signal, timeout: 60_000, maxBuffer: 4 * 1024 * 1024 })
  return stdout.trim()
}

/**
 * git fetch, then fast-forward only. A dirty or diverged tree is reported as
 * a conflict for manual resolution and never touched (no reset, no merge
 * commit). Aborting the signal kills the git process.
 */
export async function syncGit(dir: string | null, signal: AbortSignal, apply = true): Promise<GitSyncResult> {
  if (dir === null) return { state: 'not-configured', head: null, detail: 'ops.gitDir is not set on this node' }
  await git(dir, ['fetch', '--quiet'], signal)
  const dirty = await git(dir, ['status', '--porcelain', '--untracked-files=no'], signal)
  const head = async (): Promise<string> => git(dir, ['log', '--oneline', '-1'], signal)
  const counts = (await git(dir, ['rev-list', '--left-right', '--count', 'HEAD...@{u}'], signal)).split(/\s+/).map(Number)
  const [ahead = 0, behind = 0] = counts
  if (ahead > 0 && behind > 0) {
    return { state: 'conflict', head: await head(), detail: `diverged: ${ahead} local and ${behind} upstream commits; resolve by hand (nothing was changed)` }
  }
  if (behind > 0 && dirty !== '') {
    return { state: 'conflict', head: await head(), detail: `uncommitted changes in ${dir} and ${behind} upstream commits; commit or stash them by hand (nothing was changed)` }
  }
  if (behind > 0) {
    if (!apply) return { state: 'up-to-date', head: await head(), detail: `${behind} upstream commits not applied (check only)` }
    await git(dir, ['merge', '--ff-only', '--quiet', '@{u}'], signal)
    return { state: 'fast-forwarded', head: await head(), detail: `fast-forwarded ${behind} commits` }
  }
  if (ahead > 0) return { state: 'ahead', head: await head(), detail: `${ahead} local commits not upstream` }
  return { state: 'up-to-date', head: await head(), detail: dirty === '' ? 'clean' : 'uncommitted changes, nothing to pull' }
}
