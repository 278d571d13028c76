import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { CliError } from '../cli/api-client.js'
import { takeLock, updateLock } from './cluster-lock.js'
import { startLocalSimulation } from './dev/local-simulation.js'
import { DAEMON_NODE_FLAGS } from './node-flags.js'
import { EmbeddedRedis } from './embedded-redis.js'
import { createLogRoot } from './logger.js'

export interface LocalClusterOptions {
  nodes: string
  dataDir: string
  basePort: string
  p2pBasePort?: string
  /** --set key=value pairs passed to every daemon. */
  set?: string[]
}

interface Member {
  name: string
  apiPort: number
  p2pPort: number
  child: ChildProcess | null
  exited: Promise<void>
}

const NAMES = ['genesis', 'follower']
const nameOf = (i: number): string => NAMES[i] ?? `node${i + 1}`

function intFlag(flag: string, raw: string, min: number, max: number): number {
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`--${flag} expects a whole number ${min}-${max}`, 2)
  return n
}

/**
 * `aitbc-node local-cluster`: one embedded Redis shared by N daemons on
 * loopback, each with its own API and p2p port and every other node as a
 * peer. Warnings and errors of the daemons are shown prefixed by node name;
 * full logs go to <data-dir>/<node>/daemon.log. Ctrl-C stops everything.
 */
export async function runLocalCluster(o: LocalClusterOptions): Promise<void> {
  const count = intFlag('nodes', o.nodes, 1, 20)
  const basePort = intFlag('base-port', o.basePort, 1, 65000)
  // p2p ports follow the API ports (9001 -> 7070), so a second cluster on --base-port 9101 gets 7170.
  const p2pBase = intFlag('p2p-base-port', o.p2pBasePort ?? String(basePort - 1931), 1, 65000)
  const dataDir = resolve(o.dataDir)
  mkdirSync(dataDir, { recursive: true })
  let pipeClosed = false
  // A closed pipe (./dev up | head) must stop the cluster, not crash this process and orphan Redis.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    pipeClosed = true
    if (err.code === 'EPIPE') void stopAll('the output pipe closed')
  })
  const say = (line: string): void => {
    if (!pipeClosed) process.stdout.write(`${line}\n`)
  }

  // One cluster per data dir: a second run never touches the first (its daemons, its Redis, its AOF).
  const lockFile = resolve(dataDir, 'cluster.lock')
  const me = { pid: process.pid, api: `http://127.0.0.1:${basePort}`, started_at: new Date().toISOString() }
  const lock = takeLock(lockFile, me, 'local-cluster')
  if (lock.owner !== null) {
    const { pid, api } = lock.owner
    throw new CliError(`a local cluster already runs on ${dataDir}: supervisor pid ${pid}, API ${api} (stop it with Ctrl-C in its terminal or kill ${pid}, or use another --data-dir)`, 1)
  }
  updateLock(lockFile, me)

  // Daemons run in their own process groups so Ctrl-C reaches only this
  // process, which then stops them gracefully. Their pids are kept so a run
  // after a SIGKILLed one (its lock's owner provably gone) can stop the leftovers.
  const pidFile = resolve(dataDir, 'cluster.pids')
  if (lock.stale) stopLeftovers(pidFile, say)
  const pids: number[] = []
  const logs = createLogRoot('warn')
  const redis = new EmbeddedRedis({ dir: resolve(dataDir, 'redis'), port: 0, binary: 'redis-server', log: logs.component('redis:embedded') })
  await redis.start()
  say(`shared Redis: ${redis.url}`)

  // The port after the first is left to seed 001's example agent ("endpoints": {"http": "http://localhost:9002"}).
  const agentPort = basePort + 1
  const members: Member[] = Array.from({ length: count }, (_, i) => ({
    name: nameOf(i), apiPort: i === 0 ? basePort : basePort + i + 1, p2pPort: p2pBase + i, child: null, exited: Promise.resolve(),
  }))
  const cli = [process.execPath, process.argv[1]!]
  const sim = await startLocalSimulation({ dataDir, names: members.map((m) => m.name), cli })
  say('local simulation (not a real chain): each node has a simulated chain RPC, a service-manager stand-in,')
  say(`  its own clone of a demo repository, and the actions restart-chain and health-script; ${members.at(-1)!.name}'s chain lags`)
  if (sim.advanceGit !== null) say(`  advance the shared git upstream: ${sim.advanceGit}`)
  let agent: ChildProcess | null = null
  let stopping = false
  let signals = 0
  const stopAll = async (why: string, exitCode = 0): Promise<void> => {
    if (stopping) return
    stopping = true
    say(`stopping the cluster (${why})...`)
    agent?.kill('SIGTERM')
    for (const m of members) m.child?.kill('SIGTERM')
    await Promise.all(members.map((m) => m.exited))
    await sim.close()
    await redis.stop()
    rmSync(pidFile, { force: true })
    rmSync(lockFile, { force: true })
    say('stopped')
    process.exit(exitCode)
  }
  const onSignal = (signal: string): void => {
    // A second signal stops at once; the daemons still drain on their own SIGTERM.
    if (++signals > 1) {
      for (const m of members) m.child?.kill('SIGKILL')
      void redis.stop().finally(() => process.exit(1))
      return
    }
    void stopAll(signal)
  }
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => onSignal(s))
  for (const [i, m] of members.entries()) {
    const peers = members.filter((p) => p !== m).flatMap((p) => ['--peer', `${p.name}=/ip4/127.0.0.1/tcp/${p.p2pPort}`])
    const dir = resolve(dataDir, m.name)
    mkdirSync(dir, { recursive: true })
    const logFile = createWriteStream(resolve(dir, 'daemon.log'), { flags: 'a' })
    const child = spawn(process.execPath, [
      ...DAEMON_NODE_FLAGS, process.argv[1]!, 'daemon', '--name', m.name, '--host', '127.0.0.1', '--port', String(m.apiPort),
      '--data-dir', dir, '--redis-url', redis.url, '--set', `p2p.listen=/ip4/127.0.0.1/tcp/${m.p2pPort}`, ...peers,
      ...[...sim.nodes[i]!.settings, ...(o.set ?? [])].flatMap((kv) => ['--set', kv]),
    ], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    m.child = child
    if (child.pid !== undefined) pids.push(child.pid)
    writeFileSync(pidFile, `${pids.join('\n')}\n`)
    child.stdout.pipe(logFile)
    createInterface({ input: child.stdout }).on('line', (line) => {
      // Seed 001's example agent starts once genesis serves: push on the port its curl registers.
      const ready = report(m.name, line, say)
      if (ready && i === 0 && agent === null && !stopping) agent = startExampleAgent(cli, basePort, agentPort, dataDir, say)
    })
    child.stderr.on('data', (b: Buffer) => process.stderr.write(`[${m.name}] ${b.toString()}`))
    m.exited = new Promise((done) => child.on('exit', (code, signal) => {
      m.child = null
      if (!stopping) say(`[${m.name}] exited (${signal ?? `code ${code}`}); the others keep running`)
      // Nothing left to supervise: say so and stop, rather than run on with zero daemons.
      if (!stopping && members.every((x) => x.child === null)) void stopAll('every daemon exited', 1)
      done()
    }))
  }
}

/**
 * Seed 001's example agent, hermes-agent, built on `agent run`: it serves the
 * push its curl registers (http://localhost:AGENT_PORT) and answers each task
 * with a (simulated) result.
 */
function startExampleAgent(
  cli: string[],
  apiPort: number,
  port: number,
  dataDir: string,
  say: (l: string) => void,
): ChildProcess {
  const answer = 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{const t=JSON.parse(d||"{}");'
    + 'console.log(JSON.stringify({response:"simulated answer to "+JSON.stringify(t.prompt??t),model:t.model??null}))})'
  const child = spawn(cli[0]!, [
    cli[1]!, '--url', `http://127.0.0.1:${apiPort}`, 'agent', 'run', '--agent-id', 'hermes-agent', '--type', 'worker',
    '--capabilities', 'data-processing,analysis,general', '--services', 'task-execution,analysis', '--http-port', String(port),
    '--public-url', `http://localhost:${port}`, '--exec', '--', cli[0]!, '-e', answer,
  ], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const log = createWriteStream(resolve(dataDir, 'hermes-agent.log'), { flags: 'a' })
  child.stdout?.pipe(log)
  child.stderr?.pipe(log)
  say(`[hermes-agent] seed 001's example agent serves pushes on http://localhost:${port} (log: ${resolve(dataDir, 'hermes-agent.log')})`)
  return child
}

/** Shows a daemon's log line if it matters; returns whether it was the ready line. */
function report(name: string, line: string, say: (l: string) => void): boolean {
  let entry: { level?: number, msg?: string, api?: string, p2p?: string[], peerId?: string }
  try {
    entry = JSON.parse(line) as typeof entry
  } catch {
    return false
  }
  if (entry.msg === 'daemon ready') {
    say(`[${name}] ready  api ${entry.api}  p2p ${entry.p2p?.[0] ?? '?'}`)
    say(`         open ${entry.api}/ui  or try: aitbc-node --url ${entry.api} nodes`)
    return true
  }
  if ((entry.level ?? 0) >= 40 || /^node \S+ is /.test(entry.msg ?? '')) say(`[${name}] ${entry.msg}`)
  return false
}

function stopLeftovers(pidFile: string, say: (l: string) => void): void {
  if (!existsSync(pidFile)) return
  for (const pid of readFileSync(pidFile, 'utf8').split('\n').map(Number).filter((n) => n > 0)) {
    let cmdline = ''
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    } catch {
      continue
    }
    if (!cmdline.includes('aitbc-node')) continue
    say(`stopping leftover daemon ${pid} of an earlier run`)
    process.kill(pid, 'SIGKILL')
  }
  rmSync(pidFile, { force: true })
}
