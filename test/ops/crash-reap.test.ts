import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { api, startDaemon } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'
import { liveMembers } from '../fixtures/process-groups.js'

// A daemon SIGKILLed while its actions run cannot kill their process groups
// (systemd's control group does, ./dev up and a daemon run by hand do not):
// the next start of that daemon kills every group the crashed run left.
const redis = await startRedis()
t.teardown(() => redis.stop())
const scratch = mkdtempSync(join(tmpdir(), 'aitbc-crash-reap-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
const dataDir = join(scratch, 'data')
const pids = join(scratch, 'tree.pids')

const entries = (): string[] => (existsSync(join(dataDir, 'action-groups')) ? readdirSync(join(dataDir, 'action-groups')) : [])
const groups = (): number[] => (existsSync(pids) ? readFileSync(pids, 'utf8').trim().split('\n').map(Number) : [])
t.teardown(() => {
  for (const pgid of groups()) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // Gone, as it should be.
    }
  }
})

const args = [
  '--name', 'genesis', '--redis-url', redis.url, '--set', 'redis.prefix="crashreap:"',
  // The shell leads the group ($$ is its id) and leaves two sleeping children in it.
  '--set', `ops.actions=${JSON.stringify({ tree: { command: ['/bin/sh', '-c', `echo $$ >> ${pids}; sleep 300 & sleep 300 & wait`], timeoutMs: 60_000 } })}`,
]

t.test('a daemon restarted after SIGKILL kills the process groups of the actions it was running', async (t) => {
  const first = await startDaemon({ dataDir, args })
  t.teardown(() => first.stop('SIGKILL', { keepData: true }))
  for (let i = 0; i < 3; i++) {
    const res = await api(first.url, 'POST', '/ops?wait=0', { operation: 'coordinate', action: 'tree', target_node: 'genesis', timeout: 60 })
    t.equal(res.status, 202, `operation ${i + 1} accepted`)
  }
  const left = await waitFor('three groups of three processes', () => {
    const g = groups()
    return g.length === 3 && g.every((pgid) => liveMembers(pgid).length === 3) ? g : undefined
  })
  t.equal(entries().length, 3, 'each group noted in the data dir')

  first.child.kill('SIGKILL')
  await first.exited
  t.same(left.map((pgid) => liveMembers(pgid).length), [3, 3, 3], 'the groups outlive the killed daemon')

  // Under load a daemon can take longer than the fixture's 15 s to start; the reaper runs before it is ready.
  const second = await startDaemon({ dataDir, args, waitReady: false })
  t.teardown(() => second.stop('SIGTERM', { keepData: true }))
  await second.waitForLog('daemon ready', (l) => l.msg === 'daemon ready', 60_000).catch((err: unknown) => {
    console.error(second.stderr(), JSON.stringify(second.logs.slice(-20)))
    throw err
  })
  await waitFor('no process of the left groups', () => left.every((pgid) => liveMembers(pgid).length === 0), { timeoutMs: 10_000 })
  t.pass('all nine processes are gone')
  const line = await second.waitForLog('the reaper\'s report', (l) => /killed 3 action process groups/.test(String(l.msg)), 2000)
  t.same([...(line.killed as number[])].sort(), [...left].sort(), 'the log names the groups')
  t.same(entries(), [], 'their entries removed')
})
