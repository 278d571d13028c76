import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import t from 'tap'
import { AgentWorker } from '../../src/agent/index.js'
import { api, BIN, startDaemon, type TestDaemon } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
t.teardown(() => redis.stop())
const daemon = await startDaemon({ args: ['--redis-url', redis.url, '--set', 'tasks.retryBackoffMs=50', '--set', 'agents.staleAfterMs=3000'] })
t.teardown(() => daemon.stop())

/** `aitbc-node agent run ...` as its own process, stopped by its pid. */
type AgentProcess = { child: ChildProcess, out: () => string, stop: (signal?: NodeJS.Signals) => Promise<void> }
function agentRun(args: string[], urls = [daemon.url]): AgentProcess {
  const child = spawn(process.execPath, [BIN, ...urls.flatMap((u) => ['--url', u]), 'agent', 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()))
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  return {
    child,
    out: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}
const submit = async (d: TestDaemon, body: Record<string, unknown>): Promise<string> => String((await api(d.url, 'POST', '/tasks/submit', body)).body.task_id)
const taskOf = async (id: string) => (await api(daemon.url, 'GET', `/tasks/${id}`)).body.task as { state: string, attempts: number, result: unknown, error: string | null, agent_id: string | null }
const finished = (id: string) => waitFor(`task ${id} final`, async () => {
  const task = await taskOf(id)
  return ['completed', 'failed', 'dead'].includes(task.state) ? task : undefined
}, { timeoutMs: 15_000 })

t.test('--exec: task_data on stdin, JSON stdout is the result, text stdout is text, exit 1 fails with stderr', async (t) => {
  const agent = agentRun([
    '--agent-id', 'shell', '--type', 'worker', '--capabilities', 'sh',
    '--exec', '--', '/bin/sh', '-c',
    'read -r input; case "$input" in *fail*) echo "no good: $input" >&2; exit 1;; *text*) echo plain words;; *) echo "{\\"got\\": $input}";; esac',
  ])
  t.teardown(() => agent.stop())
  await waitFor('registered', () => /registered on/.test(agent.out()))
  const json = await submit(daemon, { task_data: { n: 1 }, requirements: { capabilities: ['sh'] } })
  const text = await submit(daemon, { task_data: { text: true }, requirements: { capabilities: ['sh'] } })
  const fail = await submit(daemon, { task_data: { fail: true }, max_retries: 0, requirements: { capabilities: ['sh'] } })
  t.match(await finished(json), { state: 'completed', result: { got: { n: 1 } } })
  t.match(await finished(text), { state: 'completed', result: 'plain words' })
  t.match(await finished(fail), { state: /failed|dead/, error: /exited with 1: no good: \{"fail":true\}/ })
  await agent.stop('SIGINT')
  t.equal(((await api(daemon.url, 'GET', '/agents/shell')).body.agent as { status: string }).status, 'inactive', 'Ctrl-C closes: inactive')
})

t.test('--exec: a command that never ends is killed with its process group at the task timeout', async (t) => {
  const mark = `47.${process.pid}`
  const agent = agentRun(['--agent-id', 'sleeper', '--type', 'slow', '--exec', '--', '/bin/sh', '-c', `sleep ${mark} & sleep ${mark}`])
  t.teardown(() => agent.stop())
  await waitFor('registered', () => /registered on/.test(agent.out()))
  const id = await submit(daemon, { task_data: {}, timeout_ms: 1500, max_retries: 0, requirements: { agent_type: 'slow' } })
  const alive = () => {
    try {
      return execFileSync('pgrep', ['-f', `^sleep ${mark}$`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).length
    } catch {
      return 0
    }
  }
  await waitFor('the command running', () => alive() === 2)
  t.match(await finished(id), { error: /did not finish within the task's timeout|killed at the task's deadline/ })
  await waitFor('no process of its group left', () => alive() === 0, { timeoutMs: 10_000 })
  t.equal(alive(), 0)
})

t.test('a worker SIGKILLed mid-task: the task runs again elsewhere after its lease, and is reported once', async (t) => {
  const doomed = agentRun(['--agent-id', 'doomed', '--type', 'crashy', '--exec', '--', '/bin/sleep', '30'])
  t.teardown(() => doomed.stop())
  await waitFor('registered', () => /registered on/.test(doomed.out()))
  const id = await submit(daemon, { task_data: { x: 1 }, timeout_ms: 1500, requirements: { agent_type: 'crashy' } })
  await waitFor('assigned to doomed', async () => (await taskOf(id)).agent_id === 'doomed' && (await taskOf(id)).state !== 'queued')
  await doomed.stop('SIGKILL')
  const completions: string[] = []
  const rescuer = new AgentWorker({
    urls: [daemon.url], registration: { agent_id: 'rescuer', agent_type: 'crashy' }, pollWaitMs: 500, processor: async () => 'rescued',
  })
  rescuer.on('completed', (task) => completions.push(task.task_id))
  await rescuer.run()
  t.teardown(() => rescuer.close())
  const final = await finished(id)
  t.match(final, { state: 'completed', result: 'rescued', agent_id: 'rescuer' })
  t.ok(final.attempts >= 2, `run again after the lease (attempt ${final.attempts})`)
  // The worker hears its completion answered just after the daemon has stored it.
  await waitFor('the worker reports it', () => completions.length > 0, { timeoutMs: 15_000 })
  t.same(completions, [id], 'reported once')
})

t.test('--http-port: seed 001\'s push to the agent runs the command and completes the task', async (t) => {
  const agent = agentRun(['--agent-id', 'pushee', '--type', 'web', '--http-port', '0', '--exec', '--', '/bin/sh', '-c', 'cat'])
  t.teardown(() => agent.stop())
  await waitFor('registered', () => /serving push/.test(agent.out()))
  const endpoint = ((await api(daemon.url, 'GET', '/agents/pushee')).body.agent as { endpoints: { http: string } }).endpoints.http
  t.match(endpoint, /^http:\/\/127\.0\.0\.1:\d+$/, 'registered with its push endpoint')
  const id = await submit(daemon, { task_data: { via: 'push' }, requirements: { agent_type: 'web' } })
  t.match(await finished(id), { state: 'completed', result: { via: 'push' }, agent_id: 'pushee' })
})

t.test('--url repeated: a daemon that does not answer is passed over', async (t) => {
  const agent = agentRun(['--agent-id', 'failover', '--type', 'fo', '--exec', '--', '/bin/echo', '"ok"'], ['http://127.0.0.1:1', daemon.url])
  t.teardown(() => agent.stop())
  await waitFor('registered on the second URL', () => agent.out().includes(`registered on ${daemon.url}`))
  const id = await submit(daemon, { task_data: {}, requirements: { agent_type: 'fo' } })
  t.match(await finished(id), { state: 'completed', result: 'ok' })
})

t.test('the operator guide\'s spelling: agent sdk register ... --coordinator-url', async (t) => {
  const out = execFileSync(process.execPath, [BIN, 'agent', 'sdk', 'register', '--agent-id', 'my-agent', '--type', 'worker', '--capabilities', 'data-processing,analysis', '--coordinator-url', daemon.url], { encoding: 'utf8' })
  t.match(out, /registered/)
  const listed = execFileSync(process.execPath, [BIN, 'agent', 'sdk', 'status', '--agent-id', 'my-agent', '--coordinator-url', daemon.url], { encoding: 'utf8' })
  t.match(listed, /agent_type\s+worker/)
})
