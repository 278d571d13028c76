import t from 'tap'
import { startCoordinator } from '../../fixtures/coordinator.js'
import { freePort } from '../../fixtures/poll.js'
import { startRedis } from '../../fixtures/redis-server.js'
import { cliRun } from '../run-cli.js'

// The agents verbs run in-process against the coordinator API on a real Redis: what the operator reads
// (tables, messages, JSON) and the exit codes, without a daemon process.
const redis = await startRedis()
const api = await startCoordinator({ redisUrl: redis.url })
t.teardown(async () => {
  await api.close()
  await redis.stop()
})
const cli = (args: string[]) => cliRun(['--url', api.url, ...args])

t.test('the operator guide verbs: register, list, status, update-status, remove', async (t) => {
  const reg = await cli([
    'agents', 'register', '--agent-id', 'my-agent', '--type', 'worker',
    '--capabilities', 'data-processing,analysis,debugging', '--services', 'task-execution,coordination',
    '--endpoints', '{"http":"http://my-host:9002"}', '--metadata', '{"version":"1.0.0","owner":"my-team"}',
  ])
  t.equal(reg.code, 0, reg.stderr)
  t.match(reg.stdout, /Agent my-agent registered successfully/)

  const list = await cli(['agents', 'list'])
  t.match(list.stdout, /AGENT\s+TYPE\s+STATUS/)
  t.match(list.stdout, /my-agent\s+worker\s+active\s+1\.00\s+closed\s+data-processing,analysis,debugging/)
  t.match(list.stdout, /Found 1 agents/)

  const json = await cli(['--json', 'agents', 'list', '--status', 'active'])
  t.match(JSON.parse(json.stdout), {
    status: 'success',
    count: 1,
    agents: [{ agent_id: 'my-agent', metadata: { owner: 'my-team' } }],
  })

  const status = await cli(['agents', 'status', '--agent-id', 'my-agent'])
  t.match(status.stdout, /endpoints\s+\{"http":"http:\/\/my-host:9002"\}/)

  const upd = await cli(['agents', 'update-status', '--agent-id', 'my-agent', '--status', 'maintenance'])
  t.match(upd.stdout, /agent my-agent is now maintenance/)
  t.match((await cli(['agents', 'list', '--status', 'active'])).stdout, /Found 0 agents/)

  const rm = await cli(['agents', 'remove', '--agent-id', 'my-agent'])
  t.equal(rm.code, 0)
  const gone = await cli(['agents', 'status', '--agent-id', 'my-agent'])
  t.equal(gone.code, 1)
  t.match(gone.stderr, /AGENT_NOT_FOUND: agent my-agent is not registered/)
})

t.test('the guide\'s spelling, agent sdk ... --coordinator-url, reaches the same verbs', async (t) => {
  const reg = await cliRun(['--url', 'http://127.0.0.1:9', 'agent', 'sdk', 'register', '--agent-id', 'sdk-agent', '--type', 'worker', '--coordinator-url', api.url])
  t.equal(reg.code, 0, reg.stderr)
  t.match((await cli(['agent', 'sdk', 'list'])).stdout, /sdk-agent\s+worker\s+active/)
})

t.test('errors: bad flags, bad status, unreachable daemon', async (t) => {
  const badJson = await cli(['agents', 'register', '--agent-id', 'x', '--type', 'w', '--endpoints', 'not-json'])
  t.equal(badJson.code, 2)
  t.match(badJson.stderr, /--endpoints expects a JSON object/)
  await cli(['agents', 'register', '--agent-id', 'x', '--type', 'w'])
  const badStatus = await cli(['agents', 'update-status', '--agent-id', 'x', '--status', 'sleepy'])
  t.equal(badStatus.code, 1)
  t.match(badStatus.stderr, /VALIDATION_FAILED: invalid body: status/)
  const closed = await freePort()
  const down = await cliRun(['--url', `http://127.0.0.1:${closed}`, 'agents', 'list'])
  t.equal(down.code, 1)
  t.match(down.stderr, `cannot reach aitbc-node at http://127.0.0.1:${closed} (ECONNREFUSED): is the daemon running`)
})

t.test('usage errors exit 2; --json prints JSON for refused requests too', async (t) => {
  const unknown = await cli(['nodes', '--no-such-flag'])
  t.equal(unknown.code, 2, 'an unknown option')
  t.match(unknown.stderr, /unknown option '--no-such-flag'/)
  const missing = await cli(['agents', 'register', '--type', 'w'])
  t.equal(missing.code, 2, 'a missing required option')
  t.match(missing.stderr, /required option '--agent-id <id>' not specified/)
  const help = await cli(['--help'])
  t.equal(help.code, 0, '--help is no error')
  t.match(help.stdout, /Usage: aitbc-node/)
  const refused = await cli(['--json', 'agents', 'status', '--agent-id', 'nobody'])
  t.equal(refused.code, 1)
  t.match(JSON.parse(refused.stdout), { status: 'error', code: 'AGENT_NOT_FOUND', message: /nobody/ }, 'the refusal as JSON on stdout')
})
