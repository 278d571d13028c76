import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { api, BIN } from '../fixtures/daemon.js'
import { freeClusterBase, waitFor } from '../fixtures/poll.js'

// Three clusters at base, base + 10 and base + 20, each port checked free; p2p ports follow the API ports.
const base = await freeClusterBase(30)

interface Cluster { child: ChildProcess, out: () => string, exited: Promise<number | null>, dir: string }
function localCluster(dir: string, basePort: number, shell?: string): Cluster {
  const args = [BIN, 'local-cluster', '--nodes', '2', '--data-dir', dir, '--base-port', String(basePort)]
  const child = shell === undefined
    ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('/bin/sh', ['-c', `"${process.execPath}" ${args.map((a) => `'${a}'`).join(' ')} ${shell}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()))
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  return { child, out: () => out, exited, dir }
}
const ready = (c: Cluster) => waitFor('both daemons ready', () => (c.out().match(/\] ready /g) ?? []).length === 2, { timeoutMs: 30_000 })
/** Processes whose command line names the data dir (the supervisor and its daemons), plus its redis-server by pid. */
function processesOf(dir: string, redisPid?: number): number {
  const named = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(dir)).length
  return named + (redisPid !== undefined && existsSync(`/proc/${redisPid}`) ? 1 : 0)
}
const redisPidOf = (dir: string): number => Number(readFileSync(join(dir, 'redis', 'redis.pid'), 'utf8').trim())
const stop = async (c: Cluster): Promise<void> => {
  if (c.child.exitCode === null) c.child.kill('SIGINT')
  await c.exited
}

t.test('a second cluster on the same data dir refuses and leaves the first alone; another dir and base port runs beside it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aitbc-lc-'))
  const other = mkdtempSync(join(tmpdir(), 'aitbc-lc-'))
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true })
    rmSync(other, { recursive: true, force: true })
  })
  const first = localCluster(dir, base)
  t.teardown(() => stop(first))
  await ready(first)
  const second = localCluster(dir, base + 10)
  t.not(await second.exited, 0, 'the second exits non-zero')
  t.match(second.out(), new RegExp(`a local cluster already runs on ${dir}: supervisor pid ${first.child.pid}, API http://127.0.0.1:${base}`))
  t.equal((await api(`http://127.0.0.1:${base}`, 'GET', '/health')).status, 200, 'the first is still healthy')
  const beside = localCluster(other, base + 10)
  t.teardown(() => stop(beside))
  await ready(beside)
  t.match(beside.out(), new RegExp(`p2p /ip4/127.0.0.1/tcp/${base + 10 - 1931}/`), 'its p2p ports follow its API ports')
  const nodes = (await api(`http://127.0.0.1:${base + 10}`, 'GET', '/nodes')).body.summary as { total: number }
  t.equal(nodes.total, 2, 'two clusters side by side, each with its own two nodes')
  const redisPid = redisPidOf(dir)
  t.ok(processesOf(dir, redisPid) >= 4, 'the first cluster runs: supervisor, two daemons, Redis')
  await stop(first)
  t.equal(processesOf(dir, redisPid), 0, 'Ctrl-C leaves no process of the first cluster, Redis included')
})

t.test('a closed output pipe stops everything: daemons and Redis', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aitbc-lc-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // head exits after two lines, when Redis runs and the daemons are starting.
  const piped = localCluster(dir, base + 20, '| head -n 2')
  t.teardown(() => stop(piped))
  await waitFor('Redis started', () => existsSync(join(dir, 'redis', 'redis.pid')))
  const redisPid = redisPidOf(dir)
  await piped.exited
  await waitFor('every process of the cluster gone', () => processesOf(dir, redisPid) === 0, { timeoutMs: 20_000 })
  t.equal(processesOf(dir, redisPid), 0, 'no daemon and no redis-server left')
})
