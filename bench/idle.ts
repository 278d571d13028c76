/** Idle cost of running processes, from /proc (Linux). */
import { readFileSync } from 'node:fs'
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

/** CPU (% of a core: median and 90th percentile) and median RSS (MB) of the processes over `seconds`. */
export async function idle(pids: number[], seconds: number): Promise<{ cpu: number, cpu90: number, rss: number }> {
  const before = pids.map(cpuSeconds)
  const started = performance.now()
  await new Promise((r) => setTimeout(r, seconds * 1000))
  const wall = (performance.now() - started) / 1000
  const cpu = pids.map((p, i) => ((cpuSeconds(p) - before[i]!) / wall) * 100)
  return { cpu: median(cpu), cpu90: percentile(cpu, 90), rss: median(pids.map(rssMb)) }
}
