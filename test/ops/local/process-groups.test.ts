import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { bootId, ProcessGroupFiles, procStat, reapLeftGroups } from '../../../src/ops/local/process-groups.js'
import { runProcess } from '../../../src/ops/local/run-process.js'
import { waitFor } from '../../fixtures/poll.js'
import { liveMembers } from '../../fixtures/process-groups.js'

// A daemon that crashed left its actions' process groups running; the next run
// kills them, knowing each by its leader's pid and start time, never by name.

const started: ChildProcess[] = []
/** A shell leading its own group with two sleeping children, as runProcess starts an action. */
async function group(): Promise<number> {
  const child = spawn('/bin/sh', ['-c', 'sleep 300 & sleep 300 & wait'], { detached: true, stdio: 'ignore' })
  started.push(child)
  await waitFor('the group\'s three processes', () => liveMembers(child.pid!).length === 3)
  return child.pid!
}
t.teardown(() => {
  for (const c of started) {
    try {
      process.kill(-c.pid!, 'SIGKILL')
    } catch {
      // Reaped by the test already.
    }
  }
})

/** As if the daemon that wrote the entries had crashed: their owner names a process that is gone. */
function ownerCrashed(dir: string): void {
  for (const f of readdirSync(dir)) {
    const entry = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { owner: string }
    entry.owner = '2147483647:1'
    writeFileSync(join(dir, f), JSON.stringify(entry))
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'aitbc-groups-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))

t.test('a recorded group is killed whole; a recorded pid whose start time differs is left alone', async (t) => {
  const dir = join(scratch, 'crash')
  const crashed = new ProcessGroupFiles(dir)
  const left = await group()
  const reused = await group()
  crashed.record(left, '/bin/sh')
  crashed.record(reused, '/bin/sh')
  // As if the recorded process had ended and its pid been given to this one.
  const file = join(dir, `${reused}.json`)
  const entry = JSON.parse(readFileSync(file, 'utf8')) as { start_time: string }
  entry.start_time = String(BigInt(entry.start_time) - 1n)
  writeFileSync(file, JSON.stringify(entry))

  t.same(new ProcessGroupFiles(dir).reapLeftovers(), { killed: [], reused: [], gone: [] }, 'nothing while their daemon runs')
  t.equal(liveMembers(left).length, 3, 'the group of a daemon still running is left alone')
  ownerCrashed(dir)
  const result = new ProcessGroupFiles(dir).reapLeftovers()
  t.same(result, { killed: [left], reused: [reused], gone: [] })
  await waitFor('no process of the left group', () => liveMembers(left).length === 0, { timeoutMs: 10_000 })
  t.equal(liveMembers(reused).length, 3, 'the reused pid\'s group still runs, all three processes')
  t.same(readdirSync(dir), [], 'both entries removed')
})

t.test('an entry written before a reboot kills nothing: its pid and start time may name another group now', async (t) => {
  const dir = join(scratch, 'reboot')
  const live = await group()
  new ProcessGroupFiles(dir).record(live, '/bin/sh')
  const file = join(dir, `${live}.json`)
  const entry = JSON.parse(readFileSync(file, 'utf8')) as { boot: string }
  t.equal(entry.boot, bootId(), 'the entry names this boot')
  entry.boot = 'another-boot'
  writeFileSync(file, JSON.stringify(entry))
  t.same(reapLeftGroups(dir), { killed: [], reused: [], gone: [live] })
  t.equal(liveMembers(live).length, 3, 'the group that now has the pid still runs')
  t.same(readdirSync(dir), [], 'the entry is removed')
})

t.test('a group whose leader exited is still found by its members\' group id and start times', async (t) => {
  const dir = join(scratch, 'orphans')
  // The leader starts two children and exits at once: they keep its group id.
  const child = spawn('/bin/sh', ['-c', 'sleep 300 & sleep 300 &'], { detached: true, stdio: 'ignore' })
  started.push(child)
  new ProcessGroupFiles(dir).record(child.pid!, '/bin/sh')
  await waitFor('the leader gone, its two children left', () => procStat(child.pid!) === null && liveMembers(child.pid!).length === 2)
  ownerCrashed(dir)
  t.same(reapLeftGroups(dir), { killed: [child.pid], reused: [], gone: [] })
  await waitFor('no process of the group', () => liveMembers(child.pid!).length === 0, { timeoutMs: 10_000 })
})

t.test('a run never reaps its own groups; runProcess forgets a group once it is gone', async (t) => {
  const dir = join(scratch, 'own')
  const groups = new ProcessGroupFiles(dir)
  const stop = new AbortController()
  const running = runProcess(['/bin/sh', '-c', 'sleep 300 & wait'], { signal: stop.signal, timeoutMs: 60_000, groups })
  const [file] = await waitFor('the group recorded', () => {
    const files = readdirSync(dir)
    return files.length === 1 ? files : undefined
  })
  const pgid = Number(file!.replace('.json', ''))
  t.same(groups.reapLeftovers(), { killed: [], reused: [], gone: [] }, 'its own run\'s group is not a leftover')
  t.equal(liveMembers(pgid).length, 2, 'still running')
  stop.abort()
  t.equal((await running).killed, true)
  t.same(readdirSync(dir), [], 'the entry is removed with the group')
  // The pipes close while the killed sleep is still exiting: its state turns to zombie a moment later.
  await waitFor('the group\'s processes exited', () => liveMembers(pgid).length === 0)
})
