import { execFile } from 'node:child_process'
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { startCoordinator } from '../fixtures/coordinator.js'
import { startRedis } from '../fixtures/redis-server.js'

// What a client author does with the live /openapi.json: lint it, generate types
// with openapi-typescript, compile an openapi-fetch client under --strict, and run
// a register -> submit -> poll -> complete round trip and a 422 through it.
const run = promisify(execFile)
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = (name: string): string => join(root, 'node_modules', '.bin', name)
const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' }

const CLIENT = `import createClient from 'openapi-fetch'
import type { paths } from './api.js'

const client = createClient<paths>({ baseUrl: process.argv[2] })
const agent = 'openapi-client-agent'
const out: Record<string, unknown> = {}
const reg = await client.POST('/agents/register', { body: { agent_id: agent, agent_type: 'worker', capabilities: ['inference'] } })
out.registered = reg.data?.agent_id ?? null
const sub = await client.POST('/tasks/submit', { body: { task_data: { prompt: 'Hello' }, priority: 'high' } })
const taskId: string | undefined = sub.data?.task_id
out.submitted = { status: sub.response.status, task_id: taskId ?? null }
const next = await client.GET('/agents/{id}/tasks/next', { params: { path: { id: agent }, query: { wait_ms: 5000 } } })
out.polled = { status: next.response.status, task_id: next.data?.task.task_id ?? null, state: next.data?.task.state ?? null }
if (taskId !== undefined) {
  const done = await client.POST('/tasks/{id}/complete', { params: { path: { id: taskId } }, body: { agent_id: agent, result: { answer: 42 } } })
  out.completed = done.data?.task_state ?? null
  const got = await client.GET('/tasks/{id}', { params: { path: { id: taskId } } })
  out.stored = { state: got.data?.task.state ?? null, result: got.data?.task.result ?? null }
}
const bad = await client.POST('/tasks/submit', { body: { task_data: {}, timeout_ms: 1 } })
const code: string | undefined = bad.error?.code
out.invalid = { status: bad.response.status, code: code ?? null, message: bad.error?.message ?? null }
console.log(JSON.stringify(out))
`

t.test('the live document lints, generates a client that compiles under --strict and completes a round trip', async (t) => {
  const redis = await startRedis({ appendonly: false })
  t.teardown(() => redis.stop())
  const api = await startCoordinator({ redisUrl: redis.url, engine: {} })
  t.teardown(() => api.close())
  const dir = await mkdtemp(join(tmpdir(), 'openapi-client-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // The generated client resolves openapi-fetch and its types from the project's install.
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'))
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }))

  const res = await fetch(`${api.url}/openapi.json`)
  t.equal(res.status, 200, 'served')
  await writeFile(join(dir, 'openapi.json'), await res.text())

  const config = join(root, 'test', 'coordinator', 'redocly.yaml')
  const lint = await run(bin('redocly'), ['lint', join(dir, 'openapi.json'), '--config', config, '--format', 'json'], {
    env, cwd: dir, maxBuffer: 16 * 1024 * 1024,
  }).catch((err: { stdout?: string, stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }))
  type Problem = { ruleId: string, severity: string, message: string }
  const report = JSON.parse(lint.stdout) as { totals: { errors: number }, problems: Problem[] }
  const errors = report.problems.filter((p) => p.severity === 'error')
  t.equal(report.totals.errors, 0, `redocly: no errors (${errors.map((p) => `${p.ruleId}: ${p.message}`).join('; ')})`)

  await run(bin('openapi-typescript'), [join(dir, 'openapi.json'), '-o', join(dir, 'api.d.ts')], { env, cwd: dir })
  await writeFile(join(dir, 'client.ts'), CLIENT)
  const tsc = await run(bin('tsc'), [
    '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node',
    '--outDir', join(dir, 'out'), join(dir, 'client.ts'),
  ], { cwd: dir, maxBuffer: 16 * 1024 * 1024 }).catch((err: { stdout?: string }) => ({ stdout: `FAILED ${err.stdout ?? ''}` }))
  t.equal(tsc.stdout, '', 'the generated types and the client compile under --strict')

  const { stdout } = await run(process.execPath, [join(dir, 'out', 'client.js'), api.url], { cwd: dir })
  const out = JSON.parse(stdout) as Record<string, { [k: string]: unknown } | string | null>
  t.equal(out.registered, 'openapi-client-agent', 'registered')
  t.match(out.submitted, { status: 201, task_id: /^[0-9a-f-]{36}$/ }, 'submitted')
  t.match(out.polled, { status: 200, task_id: (out.submitted as { task_id: string }).task_id, state: 'running' }, 'polled: the task, assigned')
  t.equal(out.completed, 'completed', 'completed')
  t.same(out.stored, { state: 'completed', result: { answer: 42 } }, 'the result is stored')
  t.match(out.invalid, { status: 422, code: 'VALIDATION_FAILED', message: /timeout_ms/ }, 'a 422 with the documented code')
})
