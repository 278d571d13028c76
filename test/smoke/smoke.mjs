// The smoke run of one Node.js release: `node test/smoke/smoke.mjs` starts
// what `./dev up` starts (3 daemons, one embedded Redis, seed 001's
// hermes-agent) with the Node binary running this script, then checks a
// task, a message with receipts, seed 000's status and a forced sync, and a
// clean stop. .ci/smoke runs it on each release of .ci/node-versions; the
// whole suite runs on the machine's Node. Plain JavaScript, so any Node runs
// it without tap's TypeScript loader; needs a built dist/.
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(repo, 'bin', 'aitbc-node.js')
const NAMES = ['genesis', 'follower', 'node3']
const tag = `[node ${process.version}]`
const began = Date.now()

/** A failed check: which cluster node, what went wrong, what to do about it, and the log to show (default: the node's). */
class SmokeFailure extends Error {
  constructor(node, message, fix, log) {
    super(message)
    this.node = node
    this.fix = fix
    this.log = log
  }
}
const fail = (node, message, fix, log) => {
  throw new SmokeFailure(node, message, fix, log)
}

/** Polls `check` until it returns something truthy; on the deadline, fails naming what was awaited. */
async function waitFor(node, what, check, fix, timeoutMs = 20_000, log = undefined) {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    try {
      const v = await check()
      if (v) return v
    } catch (err) {
      if (err instanceof SmokeFailure) throw err
      last = err
    }
    if (Date.now() > deadline) fail(node, `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${last.message})` : ''}`, fix, log)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const canBind = (port) => new Promise((done) => {
  const s = createServer().once('error', () => done(false))
  s.listen(port, '127.0.0.1', () => s.close(() => done(true)))
})

/**
 * A --base-port whose API ports (base, the agent's base + 1, base + 2, base + 3)
 * and p2p ports (1931 below the API ports) are free, below the kernel's
 * ephemeral range so no outgoing connection takes one first; a CI machine may
 * run ./dev up or the suite's clusters beside this one.
 */
async function freeBase() {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 12_000 + Math.floor(Math.random() * (low - 12_010))
    const ports = [0, 1, 2, 3].flatMap((i) => [base + i, base + i - 1931])
    if ((await Promise.all(ports.map(canBind))).every(Boolean)) return base
  }
  return fail('-', 'no free block of ports for the cluster', 'stop what holds the loopback ports below the ephemeral range')
}

// Settings of the caller's shell (a token, a config file, a URL) must not change what the cluster is.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AITBC_')))

/** One API call; a refused or timed-out call throws an error naming the node (waitFor polls on through it). */
async function api(url, method, path, body) {
  let res
  try {
    res = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    })
  } catch (err) {
    const node = Object.keys(urls).find((n) => urls[n] === url) ?? '-'
    throw Object.assign(new Error(`${method} ${url}${path}: ${err.cause?.code ?? err.cause?.message ?? err.message}`, { cause: err }), { node })
  }
  return { status: res.status, body: await res.json().catch(() => null) }
}

let cliStderr = ''
/** The CLI on this Node, with --json: exit code and the parsed report. */
function cli(url, args) {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, '--url', url, ...args, '--json'], { env, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      let report = null
      try {
        report = JSON.parse(stdout)
      } catch {
        // Not JSON: the caller reports stdout and stderr.
      }
      cliStderr += stderr
      done({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), report, stdout, stderr })
    })
  })
}

/** Process ids under `root` (its children, theirs, ...), read from /proc. */
function descendants(root) {
  const parent = new Map()
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      parent.set(Number(d), Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ').at(-1).split(' ')[1]))
    } catch {
      // Gone meanwhile.
    }
  }
  const out = new Set([root])
  for (let grew = true; grew;) {
    grew = false
    for (const [pid, ppid] of parent) {
      if (out.has(ppid) && !out.has(pid)) {
        out.add(pid)
        grew = true
      }
    }
  }
  return out
}

/** A process's state and start time from /proc (the start time tells a reused pid from the one seen before), or null. */
function procStat(pid) {
  try {
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1).split(' ')
    return { state: rest[0], started: rest[19] }
  } catch {
    return null
  }
}

const dir = mkdtempSync(join(tmpdir(), 'aitbc-smoke-'))
const base = await freeBase()
const urls = { genesis: `http://127.0.0.1:${base}`, follower: `http://127.0.0.1:${base + 2}`, node3: `http://127.0.0.1:${base + 3}` }
const logOf = (node) => join(dir, node, 'daemon.log')
/** Every process of the cluster seen so far, pid to start time: what the end stops, by pid. */
const pids = new Map()
let cluster = null
let out = ''
let exited = Promise.resolve(null)

function remember() {
  if (cluster?.pid === undefined) return
  const seen = [...descendants(cluster.pid)]
  for (const file of ['cluster.pids', 'redis/redis.pid']) {
    const path = join(dir, file)
    if (existsSync(path)) seen.push(...readFileSync(path, 'utf8').split('\n').map(Number).filter((n) => n > 0))
  }
  for (const p of seen) {
    const stat = procStat(p)
    if (stat !== null && !pids.has(p)) pids.set(p, stat.started)
  }
}

/** The remembered processes that still run (not zombies, not a new process on a reused pid). */
const running = () => [...pids].filter(([p, started]) => {
  const stat = procStat(p)
  return stat !== null && stat.state !== 'Z' && stat.started === started
}).map(([p]) => p)

/** Ctrl-C to the supervisor (it stops the daemons, the agent and Redis gracefully), then SIGKILL to any pid left. */
async function stopCluster(graceMs) {
  remember()
  if (cluster !== null && cluster.exitCode === null && cluster.signalCode === null) cluster.kill('SIGINT')
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), graceMs))])
  // The supervisor waits for its daemons and Redis but only signals the agent: give it a moment.
  const deadline = Date.now() + (code === 'timeout' ? 0 : 5000)
  while (running().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  const left = running()
  for (const p of left) {
    try {
      process.kill(p, 'SIGKILL')
    } catch {
      // Exited between the check and the kill.
    }
  }
  return { code, left }
}

const steps = [
  ['start', async () => {
    // Its own process group: a terminal's Ctrl-C reaches only this script, which stops the cluster once
    // (a second SIGINT would make local-cluster kill its daemons at once).
    cluster = spawn(process.execPath, [BIN, 'local-cluster', '--data-dir', dir, '--base-port', String(base)], {
      env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    })
    cluster.stdout.on('data', (b) => (out += b.toString()))
    cluster.stderr.on('data', (b) => (out += b.toString()))
    exited = new Promise((r) => cluster.once('exit', (code, signal) => r(signal ?? code)))
    const fix = `read what local-cluster printed and ${dir}/<node>/daemon.log; \`./dev up\` with this Node first on PATH shows the same start`
    await waitFor('-', 'three daemons ready and each seeing the other two online', () => {
      if (cluster.exitCode !== null) fail(NAMES.find((n) => !out.includes(`[${n}] ready`)) ?? '-', `local-cluster exited (${cluster.exitCode})`, fix)
      return NAMES.every((n) => out.includes(`[${n}] ready`)) && (out.match(/is online/g) ?? []).length >= 6
    }, fix, 60_000).catch((err) => {
      const slow = NAMES.find((n) => !out.includes(`[${n}] ready`))
      if (slow !== undefined) err.node = slow
      throw err
    })
    remember()
    return `APIs ${Object.values(urls).join(' ')}`
  }],
  ['node version', async () => {
    const want = realpathSync(process.execPath)
    const daemons = readFileSync(join(dir, 'cluster.pids'), 'utf8').split('\n').map(Number).filter((n) => n > 0)
    for (const [i, pid] of daemons.entries()) {
      const exe = realpathSync(`/proc/${pid}/exe`)
      if (exe !== want) fail(NAMES[i], `daemon ${pid} runs ${exe}, not ${want}`, 'local-cluster must start daemons with process.execPath (src/daemon/local-cluster.ts)')
    }
    return `${daemons.length} daemons run ${want}`
  }],
  ['task', async () => {
    const agentLog = join(dir, 'hermes-agent.log')
    const fix = `read ${agentLog} and GET /tasks/:id; the agent is \`aitbc-node agent run\` on genesis's API (src/agent)`
    // Read on the follower: the agent registered on genesis, and the registry is shared.
    await waitFor('genesis', 'hermes-agent active in the shared registry', async () =>
      (await api(urls.follower, 'GET', '/agents/hermes-agent')).body?.agent?.status === 'active', fix, 20_000, agentLog)
    const prompt = `smoke on ${process.version}`
    const sub = await api(urls.node3, 'POST', '/tasks/submit', { task_data: { model: 'smoke', prompt }, priority: 'normal', requirements: {} })
    if (sub.status !== 201) fail('node3', `POST /tasks/submit answered ${sub.status} ${JSON.stringify(sub.body)}`, fix)
    const task = await waitFor('genesis', `task ${sub.body.task_id} completed`, async () => {
      const t = (await api(urls.genesis, 'GET', `/tasks/${sub.body.task_id}`)).body?.task
      if (t?.state === 'failed' || t?.state === 'dead') fail('genesis', `task ${t.task_id} ended ${t.state}: ${JSON.stringify(t.error)}`, fix, agentLog)
      return t?.state === 'completed' ? t : undefined
    }, fix, 20_000, agentLog)
    if (task.agent_id !== 'hermes-agent' || !String(task.result?.response).includes(prompt)) {
      fail('genesis', `task completed by ${task.agent_id} with ${JSON.stringify(task.result)}`, fix, agentLog)
    }
    return `submitted on node3, completed by hermes-agent, read on genesis`
  }],
  ['message', async () => {
    const fix = 'the receipt\'s reason says why; check `aitbc-node nodes` and both daemon.logs (docs/mesh.md#messages)'
    const sent = await api(urls.genesis, 'POST', '/messages', { to: 'follower', body: `smoke on ${process.version}` })
    if (sent.status !== 202) fail('genesis', `POST /messages answered ${sent.status} ${JSON.stringify(sent.body)}`, fix)
    const id = sent.body.message_id
    await waitFor('genesis', `GET /messages/${id} to show follower delivered`, async () => {
      const r = (await api(urls.genesis, 'GET', `/messages/${id}`)).body?.receipts?.follower
      if (r?.state === 'failed' || r?.state === 'expired') fail('follower', `receipt ${r.state}: ${r.reason}`, fix)
      return r?.state === 'delivered'
    }, fix, 10_000)
    const inbox = (await api(urls.follower, 'GET', '/messages/inbox?limit=100')).body?.messages ?? []
    if (!inbox.some((m) => m.id === id && m.from === 'genesis')) fail('follower', `message ${id} delivered but not in the inbox`, fix)
    return `${id} genesis -> follower delivered`
  }],
  ['status', async () => {
    const r = await cli(urls.genesis, ['status', '--target', 'all'])
    const answered = Object.keys(r.report?.nodes_status ?? {}).sort()
    if (r.code !== 0 || answered.join() !== [...NAMES].sort().join()) {
      fail('genesis', `aitbc-node status --target all exited ${r.code}, nodes ${answered.join(', ') || 'none'}: ${(r.report?.issues ? JSON.stringify(r.report.issues) : r.stderr || r.stdout).slice(0, 500)}`,
        'run `aitbc-node --url URL status --target all` against a ./dev up cluster on this Node; the issues name the node')
    }
    return `exit 0, ${answered.join(', ')} answered`
  }],
  ['forced sync', async () => {
    // What to sync: node3's chain lags until a forced restart, and the shared git upstream gets a new release.
    const advance = /advance the shared git upstream: (.*)/.exec(out)?.[1]
    if (advance === undefined) fail('-', 'local-cluster printed no command to advance the git upstream', 'is git installed? (src/daemon/dev/local-simulation.ts)')
    await new Promise((done, reject) => execFile('/bin/sh', ['-c', advance], { env }, (err) => (err ? reject(err) : done())))
    const command = ['sync', '--type', 'all', '--target', 'all', '--force']
    const r = await cli(urls.genesis, command)
    const details = r.report?.sync_details ?? {}
    if (r.code !== 0 || r.report?.sync_result !== 'success' || details.blockchain_synced !== true || details.git_synced !== true) {
      const why = r.report === null ? (r.stderr || r.stdout) : JSON.stringify({ issues: r.report.issues, sync_details: details })
      fail(r.report?.issues?.[0]?.node ?? 'genesis', `aitbc-node ${command.join(' ')} exited ${r.code}: ${why.slice(0, 600)}`,
        'node3\'s chain is restarted through its simulated service manager, git is pulled in each node\'s clone (src/daemon/dev, src/ops)')
    }
    return 'exit 0: node3\'s chain restarted and caught up, every clone at the new release'
  }],
  ['stop', async () => {
    const { code, left } = await stopCluster(20_000)
    if (left.length > 0) fail('-', `processes ${left.join(', ')} outlived Ctrl-C to local-cluster (killed now)`, 'the graceful stop of src/daemon/local-cluster.ts')
    if (code !== 0) {
      fail('-', `local-cluster ${code === 'timeout' ? 'did not exit within 20 s of' : `exited ${code} on`} Ctrl-C`, 'the graceful stop of src/daemon/local-cluster.ts')
    }
    return 'Ctrl-C stopped the supervisor, the daemons, the agent and Redis'
  }],
  ['no runtime warnings', async () => {
    // A deprecation this release prints is the break of the next one: the time to act is now.
    const agentLog = join(dir, 'hermes-agent.log')
    const text = [out, cliStderr, existsSync(agentLog) ? readFileSync(agentLog, 'utf8') : ''].join('\n')
    const warnings = [...new Set(text.split('\n').filter((l) => /\(node:\d+\) \S*\s*\w*Warning:/.test(l)))]
    if (warnings.length > 0) {
      fail(/^\[(\w+)\]/.exec(warnings[0])?.[1] ?? '-', `Node printed ${warnings.length} warning(s):\n    ${warnings.slice(0, 5).join('\n    ')}`,
        'rerun with NODE_OPTIONS=--trace-warnings to find the caller, then move off the deprecated API')
    }
    return 'none from the daemons, the agent or the CLI'
  }],
]

let finishing = false
async function finish(failure) {
  if (finishing) return
  finishing = true
  const { left } = await stopCluster(15_000)
  const secs = ((Date.now() - began) / 1000).toFixed(1)
  if (failure === null) {
    rmSync(dir, { recursive: true, force: true })
    console.log(`${tag} smoke passed in ${secs} s`)
    process.exit(0)
  }
  const node = failure.node ?? '-'
  console.error(`${tag} smoke FAILED after ${secs} s at step "${failure.step}"${node === '-' ? '' : ` on ${node}`}: ${failure.message}`)
  if (failure.fix) console.error(`  fix: ${failure.fix}`)
  if (left.length > 0) console.error(`  killed leftover processes ${left.join(', ')}`)
  console.error(`  kept for inspection: ${dir}`)
  const log = failure.log ?? (NAMES.includes(node) ? logOf(node) : null)
  if (log !== null && existsSync(log)) console.error(`  last lines of ${log}:\n${readFileSync(log, 'utf8').trimEnd().split('\n').slice(-15).join('\n')}`)
  else if (out !== '') console.error(`  local-cluster printed:\n${out.trimEnd().split('\n').slice(-20).join('\n')}`)
  process.exit(1)
}

for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(s, () => void finish(Object.assign(new SmokeFailure('-', `interrupted by ${s}`), { step: 'interrupted' })))
}

console.log(`${tag} smoke: local cluster on ${dir}, base port ${base}`)
if (!existsSync(join(repo, 'dist', 'cli', 'main.js'))) {
  await finish(Object.assign(new SmokeFailure('-', 'dist/ is not built', 'npm run -s build'), { step: 'build' }))
}
for (const [i, [name, run]] of steps.entries()) {
  const t0 = Date.now()
  try {
    const what = await run()
    console.log(`${tag} ${i + 1}/${steps.length} ${name}: ok (${((Date.now() - t0) / 1000).toFixed(1)} s) ${what}`)
  } catch (err) {
    const failure = err instanceof SmokeFailure ? err : new SmokeFailure(err?.node ?? '-', err?.message ?? String(err),
      `unexpected: the log below shows what the node did; \`.ci/smoke ${process.versions.node.split('.')[0]}\` runs this release again`)
    failure.step = name
    await finish(failure)
  }
}
await finish(null)
