import t from 'tap'
import { jsonDepth, MAX_JSON_DEPTH } from '../../src/coordinator/http/body.js'
import { registerAgent } from '../fixtures/agents.js'
import { api } from '../fixtures/api.js'
import { startCoordinator } from '../fixtures/coordinator.js'
import { startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
t.teardown(() => redis.stop())
const d = await startCoordinator({ redisUrl: redis.url, engine: { coordinator: { bodyLimitBytes: 1048576 } } })
t.teardown(() => d.close())

const nested = (depth: number): string => `{"task_data":${'['.repeat(depth)}${']'.repeat(depth)}}`

t.test('jsonDepth counts objects and arrays outside strings', async (t) => {
  t.equal(jsonDepth('{"a":[1,{"b":2}]}'), 3)
  t.equal(jsonDepth('{"a":"[[[[{{{{"}'), 1, 'brackets inside strings do not count')
  t.equal(jsonDepth('{"a":"\\"[[["}'), 1, 'nor after an escaped quote')
  t.equal(jsonDepth('"plain"'), 0)
  t.equal(jsonDepth(nested(5000), 70), 71, 'stops counting past the limit')
})

// The same for POST /messages and POST /ops, which need the mesh and operations: fuzz-routes.test.ts.
t.test('JSON nested 2,000 and 5,000 deep gets 400 naming the limit on every body route, never a 500', async (t) => {
  const routes: [string, string][] = [
    ['POST', '/agents/register'], ['POST', '/agents/discover'], ['POST', '/agents/w/heartbeat'], ['PUT', '/agents/w/status'],
    ['POST', '/tasks/submit'], ['POST', '/tasks/00000000-0000-4000-8000-000000000000/complete'],
    ['POST', '/tasks/00000000-0000-4000-8000-000000000000/fail'], ['PUT', '/load-balancer/strategy'],
  ]
  for (const depth of [2000, 5000]) {
    for (const [method, path] of routes) {
      const res = await api(d.url, method, path, nested(depth))
      t.equal(res.status, 400, `${method} ${path} at depth ${depth}`)
      t.match(res.body, { code: 'JSON_TOO_DEEP', message: new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`) })
    }
  }
  const inner = MAX_JSON_DEPTH - 2
  const fine = await api(d.url, 'POST', '/tasks/submit', `{"task_data":{"x":${'['.repeat(inner)}${']'.repeat(inner)}}}`)
  t.equal(fine.status, 201, `${MAX_JSON_DEPTH} levels in all are accepted`)
  t.equal((await api(d.url, 'GET', '/health')).status, 200, 'the daemon is fine')
})

t.test('an agent id with a colon is refused, so no id can name another agent\'s keys', async (t) => {
  await registerAgent(d.url, 'kc')
  const res = await api(d.url, 'POST', '/agents/register', { agent_id: 'kc:tasks', agent_type: 'worker' })
  t.equal(res.status, 422)
  t.match(res.body, { message: /agent_id: expected 1-128 characters: letters, digits and \. _ @ -/ })
  const next = await api(d.url, 'GET', '/agents/kc/tasks/next')
  // It may take the task the test above queued (200) or find none (204); a broken key answered 500.
  t.ok(next.status === 200 || next.status === 204, `kc's pull queue is untouched and still answers (${next.status})`)
})

t.test('discover with the most filters the schema allows is answered, one more is refused naming the field, never a 500', async (t) => {
  await registerAgent(d.url, 'many-filters', { capabilities: ['c0', 'c1'], services: ['s0'] })
  const list = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`)
  // 64 capabilities and 64 services: the script ranks by ZINTER over 131 keys (nobody has all of them).
  const most = await api(d.url, 'POST', '/agents/discover', { capabilities: list('c', 64), services: list('s', 64), limit: 1000 })
  t.equal(most.status, 200)
  t.match(most.body, { status: 'success', count: 0, agents: [] })
  const two = await api(d.url, 'POST', '/agents/discover', { capabilities: 'c0,c1', services: ['s0'] })
  t.same((two.body.agents as { agent_id: string }[]).map((a) => a.agent_id), ['many-filters'])
  const tooMany = await api(d.url, 'POST', '/agents/discover', { capabilities: list('c', 65) })
  t.equal(tooMany.status, 422)
  t.match(tooMany.body, { code: 'VALIDATION_FAILED', message: /capabilities/ })
  const forged = await api(d.url, 'POST', '/agents/discover', { capabilities: ['{x}:agents:all', '*', '\u0000'], agent_type: 'a'.repeat(129) })
  t.equal(forged.status, 422, 'a name past 128 characters is refused')
  const keyish = await api(d.url, 'POST', '/agents/discover', { capabilities: ['agents:all', '*', '{aitbc}'] })
  t.equal(keyish.status, 200, 'names that look like keys or patterns are only names')
  t.equal((keyish.body as { count: number }).count, 0)
})
