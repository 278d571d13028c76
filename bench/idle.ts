/** Idle cost of running processes, from /proc (Linux). */
import { existsSync, readFileSync } from 'node:fs'
import { median, percentile } from './stats.js'

const TICKS = 100 // USER_HZ on Linux

/** CPU seconds a process has used so far (user + system, /proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}

export function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb) / 1024
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}/stat`)

/**
 * CPU (% of a core: median and 90th percentile) and median RSS (MB) over `seconds` of the
 * processes that live through it (`exited` counts the others, which are left out).
 */
export interface IdleCost { cpu: number, cpu90: number, rss: number, exited: number }

export async function idle(pids: number[], seconds: number): Promise<IdleCost> {
  const running = pids.filter(alive)
  const before = running.map(cpuSeconds)
  const started = performance.now()
  await new Promise((r) => setTimeout(r, seconds * 1000))
  const wall = (performance.now() - started) / 1000
  const lived = running.flatMap((p, i) => (alive(p) ? [{ p, cpu: ((cpuSeconds(p) - before[i]!) / wall) * 100 }] : []))
  const cpu = lived.map((l) => l.cpu)
  const rss = median(lived.map((l) => rssMb(l.p)))
  return { cpu: median(cpu), cpu90: percentile(cpu, 90), rss, exited: pids.length - lived.length }
}
