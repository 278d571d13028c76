import { type ChildProcess, execFile, execSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { BIN } from '../fixtures/daemon.js'
import { freeClusterBase, waitFor } from '../fixtures/poll.js'

// A fresh local cluster, as `./dev up` starts it, then what the README tells a new user to run.
const base = await freeClusterBase()
const url = `http://127.0.0.1:${base}`
const dir = mkdtempSync(join(tmpdir(), 'aitbc-first-hour-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const cluster: ChildProcess = spawn(process.execPath, [BIN, 'local-cluster', '--data-dir', dir, '--base-port', String(base)], { stdio: ['ignore', 'pipe', 'pipe'] })
let out = ''
cluster.stdout?.on('data', (b: Buffer) => (out += b.toString()))
cluster.stderr?.on('data', (b: Buffer) => (out += b.toString()))
const exited = new Promise((r) => cluster.once('exit', r))
t.teardown(async () => {
  cluster.kill('SIGINT')
  await exited
})
await waitFor('three nodes ready and online', () => (out.match(/\] ready /g) ?? []).length === 3 && (out.match(/is online/g) ?? []).length >= 6, { timeoutMs: 40_000 })
  .catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; local-cluster printed:\n${out.slice(-3000)}`)
  })

const cli = async (...args: string[]): Promise<{ code: number, stdout: string, report: Record<string, unknown> }> => {
  const r = await promisify(execFile)(process.execPath, [BIN, '--url', url, ...args, '--json'], { encoding: 'utf8' }).then(
    (ok) => ({ code: 0, stdout: ok.stdout }),
    (err: { code: number, stdout: string }) => ({ code: err.code, stdout: err.stdout }),
  )
  return { ...r, report: JSON.parse(r.stdout) as Record<string, unknown> }
}

t.test('seed 000\'s five prompts succeed on a fresh local cluster', async (t) => {
  const lagging = await cli('sync', '--type', 'blockchain', '--target', 'all')
  t.equal(lagging.code, 2, 'Sync blockchain state: node3 lags, reported as partial')
  t.match(lagging.report.issues, [{ node: 'node3', step: 'blockchain', error: /behind genesis by \d+ blocks/ }])
  const forced = await cli('sync', '--type', 'blockchain', '--target', 'all', '--force')
  t.equal(forced.code, 0, 'with force the lagging chain is restarted and catches up')
  t.match(forced.report, { sync_result: 'success', sync_details: { blockchain_synced: true } })

  const status = await cli('status', '--target', 'all')
  t.equal(status.code, 0, 'Check status of all nodes')
  t.same(Object.keys(status.report.nodes_status as object).sort(), ['follower', 'genesis', 'node3'])

  const advance = /advance the shared git upstream: (.*)/.exec(out)?.[1]
  t.ok(advance, 'the cluster prints how to advance the git upstream')
  execSync(advance!, { stdio: 'ignore' })
  const git = await cli('sync', '--type', 'git', '--target', 'all', '--force')
  t.equal(git.code, 0, 'Sync git repository across all nodes with force flag')
  t.match(git.report, { sync_details: { git_synced: true }, recommendations: [/git: all at \w+ next release/] })

  const health = await cli('health', '--target', 'follower')
  t.equal(health.code, 0, 'Perform health check on follower node')
  t.match(health.report.details, {
    checks: { follower: { redis: { ok: true }, aof: { ok: true }, eviction: { ok: true }, chain: { ok: true }, registry: { cluster_id: /\w/ } } },
  }, 'the health report carries its deep checks')

  const restart = await cli('coordinate', '--action', 'restart-chain', '--target', 'genesis', '--force')
  t.equal(restart.code, 0, 'Coordinate blockchain service restart on genesis node')
  t.match(restart.report, { validation_status: 'success', recommendations: ['restart-chain succeeded on every target'] })
  t.match(restart.report.details, { output: { genesis: { exit_code: 0, output: /aitbc-blockchain-node restarted \(simulated chain/ } } }, 'the action\'s own output is in the report')
  const journal = await (await fetch(`${url}/ops/${String(restart.report.op_id)}`)).json() as { operation: { events: { node: string, detail: string }[] } }
  t.ok(journal.operation.events.some((e) => e.node === 'genesis' && /restarted \(simulated chain/.test(e.detail)), 'and in the journal')
})

t.test('seed 001\'s curls, verbatim: the example task completes on hermes-agent at localhost:base+1', async (t) => {
  const register = execSync(`curl -s -X POST http://localhost:${base}/agents/register -H "Content-Type: application/json" -d '{
"agent_id": "hermes-agent",
"agent_type": "worker",
"capabilities": ["data-processing", "analysis", "general"],
"services": ["task-execution", "analysis"],
"endpoints": {"http": "http://localhost:${base + 1}"},
"metadata": {"version": "1.0.0"}
}'`, { encoding: 'utf8' })
  t.match(JSON.parse(register), { status: 'success', message: 'Agent hermes-agent registered successfully' })
  const submit = JSON.parse(execSync(`curl -s -X POST http://localhost:${base}/tasks/submit -H "Content-Type: application/json" -d '{
"task_data": {
"model": "llama2",
"prompt": "test prompt"
},
"priority": "normal",
"requirements": {}
}'`, { encoding: 'utf8' })) as { task_id: string }
  const task = await waitFor('the task completed', async () => {
    const r = await (await fetch(`${url}/tasks/${submit.task_id}`)).json() as { task: { state: string, result: unknown, agent_id: string } }
    return r.task.state === 'completed' ? r.task : undefined
  }, { timeoutMs: 15_000 })
  t.match(task, { agent_id: 'hermes-agent', result: { response: /simulated answer to "test prompt"/, model: 'llama2' } })
  const stats = JSON.parse(execSync(`curl -s http://localhost:${base}/tasks/status`, { encoding: 'utf8' })) as { stats: { tasks_completed: number } }
  t.equal(stats.stats.tasks_completed, 1, 'visible in GET /tasks/status')
  t.match(readFileSync(join(dir, 'hermes-agent.log'), 'utf8'), `completed ${submit.task_id}`)
})
