import { randomUUID } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Where runProcess notes the process groups it starts, so a crash does not orphan them. */
export interface ProcessGroupLedger {
  /** Notes a new group (its leader's pid is the pgid), before the daemon awaits anything. */
  record(pgid: number, argv0: string): void
  /** Forgets a group once it has been killed and its leader reaped. */
  forget(pgid: number): void
}

/** One group as written in the data dir. */
interface GroupEntry {
  pgid: number
  /** The leader's start time, field 22 of /proc/<pid>/stat (clock ticks since boot). */
  start_time: string
  argv0: string
  /** The daemon run that started it: a run never reaps its own groups. */
  run: string
  /** The kernel's boot id: start times count from boot, so an entry of another boot matches nothing. */
  boot: string
  /** The daemon that started it (pid and start time): a group whose daemon still runs is not left over. */
  owner: string
}

/** A process's identity that a reused pid cannot share: "pid:start time", or '' when it is gone. */
function identity(pid: number): string {
  const stat = procStat(pid)
  return stat === null ? '' : `${pid}:${stat.startTime}`
}

/** This boot's id (a fresh random id at every boot), or '' where /proc does not have it. */
export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return ''
  }
}

/** A process as /proc shows it. */
interface ProcStat {
  pgrp: number
  startTime: string
}

/** pgrp (field 5) and start time (field 22) of /proc/<pid>/stat, or null when there is no such process. */
export function procStat(pid: number): ProcStat | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // comm (field 2) may hold spaces and parentheses: the fields after it start past the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const pgrp = Number(rest[5 - 3])
  const startTime = rest[22 - 3]
  if (!Number.isInteger(pgrp) || startTime === undefined) return null
  return { pgrp, startTime }
}

/** One small file per running group in a directory of the data dir. */
export class ProcessGroupFiles implements ProcessGroupLedger {
  private readonly run = randomUUID()
  private readonly boot = bootId()
  private readonly owner = identity(process.pid)

  constructor(private readonly dir: string) {}

  /** Kills the groups earlier runs left (see reapLeftGroups); this run's own are kept. */
  reapLeftovers(): ReapResult {
    return reapLeftGroups(this.dir, this.run)
  }

  record(pgid: number, argv0: string): void {
    const stat = procStat(pgid)
    // Gone already (it cannot be: the leader is not reaped until the event loop runs); nothing to leave behind.
    if (stat === null) return
    const entry: GroupEntry = {
      pgid, start_time: stat.startTime, argv0: argv0.slice(0, 200), run: this.run, boot: this.boot, owner: this.owner,
    }
    mkdirSync(this.dir, { recursive: true })
    // Synchronous on purpose: the entry exists before the daemon can crash in an await.
    writeFileSync(join(this.dir, `${pgid}.json`), JSON.stringify(entry))
  }

  forget(pgid: number): void {
    try {
      rmSync(join(this.dir, `${pgid}.json`), { force: true })
    } catch {
      // A stale entry is harmless: the next start finds its pid gone or reused and leaves it.
    }
  }
}

/** What the reaper did with the groups a previous run left. */
export interface ReapResult {
  /** Groups killed: a process of theirs was still running. */
  killed: number[]
  /** Entries whose pid now belongs to another process (reused pid, another start time): left alone. */
  reused: number[]
  /** Entries with nothing left to kill, or written before a reboot (their processes ended with it). */
  gone: number[]
}

/**
 * Kills the process groups a previous run of the daemon recorded and did
 * not forget (it crashed while they ran), then removes their entries. A
 * group is identified by its leader's pid and start time, never by a
 * command name: a live leader with another start time is a reused pid and
 * is left alone. A leader gone with members left (it exited, and the crash
 * came before the daemon killed the rest) is matched by the members' group
 * id and their start times, which cannot be earlier than the leader's.
 */
export function reapLeftGroups(dir: string, ownRun?: string): ReapResult {
  const result: ReapResult = { killed: [], reused: [], gone: [] }
  let files: string[]
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'))
  } catch {
    return result
  }
  const boot = bootId()
  for (const file of files) {
    const entry = readEntry(join(dir, file))
    if (entry !== null && entry.run === ownRun) continue
    // Another daemon still running on this data dir owns it: its groups are not left over.
    if (entry !== null && entry.boot === boot && entry.owner !== '' && identity(Number(entry.owner.split(':')[0])) === entry.owner) continue
    // Another boot's groups died with it; the same pid and tick count now name someone else's.
    if (entry !== null && entry.boot !== boot) result.gone.push(entry.pgid)
    else if (entry !== null) {
      const outcome = reapGroup(entry)
      result[outcome].push(entry.pgid)
    }
    rmSync(join(dir, file), { force: true })
  }
  return result
}

function readEntry(path: string): GroupEntry | null {
  try {
    const e = JSON.parse(readFileSync(path, 'utf8')) as Partial<GroupEntry>
    if (!Number.isInteger(e.pgid) || (e.pgid as number) <= 1 || typeof e.start_time !== 'string' || !/^\d+$/.test(e.start_time)) return null
    return {
      pgid: e.pgid as number, start_time: e.start_time, argv0: String(e.argv0 ?? ''), run: String(e.run ?? ''), boot: String(e.boot ?? ''),
      owner: String(e.owner ?? ''),
    }
  } catch {
    return null
  }
}

function reapGroup(entry: GroupEntry): keyof ReapResult {
  const leader = procStat(entry.pgid)
  if (leader !== null) {
    if (leader.startTime !== entry.start_time || leader.pgrp !== entry.pgid) return 'reused'
    return kill(-entry.pgid) ? 'killed' : 'gone'
  }
  const recorded = BigInt(entry.start_time)
  const members = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    const s = procStat(Number(d))
    return s !== null && s.pgrp === entry.pgid ? [BigInt(s.startTime)] : []
  })
  if (members.length === 0) return 'gone'
  // A member older than the recorded leader belongs to a group that reused the id.
  if (members.some((started) => started < recorded)) return 'reused'
  return kill(-entry.pgid) ? 'killed' : 'gone'
}

function kill(target: number): boolean {
  try {
    process.kill(target, 'SIGKILL')
    return true
  } catch {
    return false
  }
}
