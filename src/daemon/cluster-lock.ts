import { readFileSync, rmSync, writeFileSync } from 'node:fs'

/** Who holds a data dir: the local-cluster supervisor's pid and its first API URL. */
export interface LockOwner {
  pid: number
  api: string
  started_at: string
}

/** Whether pid is a live process whose command line contains marker (so a reused pid is not mistaken). */
export function isAlive(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)
  } catch {
    return false
  }
}

/**
 * Takes the data dir's lock (created exclusively). Returns null when taken,
 * or the live owner that holds it. A lock whose owner is provably gone is
 * replaced; only then may the caller clean up what that owner left behind.
 */
export function takeLock(file: string, me: LockOwner, marker: string): { owner: LockOwner | null, stale: boolean } {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(me), { flag: 'wx', mode: 0o644 })
      return { owner: null, stale: attempt > 0 }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    let owner: LockOwner | null = null
    try {
      owner = JSON.parse(readFileSync(file, 'utf8')) as LockOwner
    } catch {
      // Unreadable: written by a run that died mid-write.
    }
    if (owner !== null && isAlive(owner.pid, marker)) return { owner, stale: false }
    rmSync(file, { force: true })
  }
  return { owner: null, stale: true }
}

/** Records the lock's API URL once it is known. */
export function updateLock(file: string, me: LockOwner): void {
  writeFileSync(file, JSON.stringify(me))
}
