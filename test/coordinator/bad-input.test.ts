import t from 'tap'
import { startCoordinator } from '../fixtures/coordinator.js'
import { api } from '../fixtures/api.js'
import { startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
const c = await startCoordinator({ redisUrl: redis.url, bodyLimitBytes: 4096 })
t.teardown(async () => {
  await c.close()
  await redis.stop()
})

const ok = { agent_id: 'w1', agent_type: 'worker' }

// [what, method, path, raw body, expected status, expected code, text the message or detail must contain]
const cases: [string, string, string, string, number, string, RegExp][] = [
  ['invalid JSON', 'POST', '/agents/register', '{"agent_id": "w1",', 400, 'INVALID_JSON', /JSON/],
  ['array instead of object', 'POST', '/agents/register', '[1,2]', 422, 'VALIDATION_FAILED', /body/],
  [
    'missing agent_id',
    'POST',
    '/agents/register',
    '{"agent_type":"worker"}',
    422,
    'VALIDATION_FAILED',
    /agent_id/,
  ],
  [
    'agent_id a number',
    'POST',
    '/agents/register',
    '{"agent_id":5,"agent_type":"w"}',
    422,
    'VALIDATION_FAILED',
    /agent_id/,
  ],
  [
    'agent_id with a space',
    'POST',
    '/agents/register',
    '{"agent_id":"a b","agent_type":"w"}',
    422,
    'VALIDATION_FAILED',
    /agent_id/,
  ],
  [
    'capabilities not a list',
    'POST',
    '/agents/register',
    JSON.stringify({ ...ok, capabilities: 'gpu' }),
    422,
    'VALIDATION_FAILED',
    /capabilities/,
  ],
  [
    'endpoints not an object',
    'POST',
    '/agents/register',
    JSON.stringify({ ...ok, endpoints: ['x'] }),
    422,
    'VALIDATION_FAILED',
    /endpoints/,
  ],
  [
    'unknown field',
    'POST',
    '/agents/register',
    JSON.stringify({ ...ok, agnet_type: 'x' }),
    422,
    'VALIDATION_FAILED',
    /agnet_type/,
  ],
  [
    '__proto__ key',
    'POST',
    '/agents/register',
    '{"agent_id":"w1","agent_type":"w","__proto__":{"admin":true}}',
    400,
    'FORBIDDEN_KEY',
    /__proto__/,
  ],
  [
    'nested __proto__',
    'POST',
    '/agents/register',
    '{"agent_id":"w1","agent_type":"w","metadata":{"__proto__":{"x":1}}}',
    400,
    'FORBIDDEN_KEY',
    /__proto__/,
  ],
  [
    'constructor.prototype',
    'POST',
    '/agents/register',
    '{"agent_id":"w1","agent_type":"w","metadata":{"constructor":{"prototype":{}}}}',
    400,
    'FORBIDDEN_KEY',
    /prototype/,
  ],
  [
    'oversized body',
    'POST',
    '/agents/register',
    JSON.stringify({ ...ok, metadata: { blob: 'x'.repeat(8000) } }),
    413,
    'BODY_TOO_LARGE',
    /4096/,
  ],
  [
    'unknown status in discover',
    'POST',
    '/agents/discover',
    '{"status":"sleeping"}',
    422,
    'VALIDATION_FAILED',
    /status/,
  ],
  ['negative limit', 'POST', '/agents/discover', '{"limit":-1}', 422, 'VALIDATION_FAILED', /limit/],
  [
    'min_health_score > 1',
    'POST',
    '/agents/discover',
    '{"min_health_score":3}',
    422,
    'VALIDATION_FAILED',
    /min_health_score/,
  ],
  [
    'status stale is the sweep’s',
    'PUT',
    '/agents/w1/status',
    '{"status":"stale"}',
    422,
    'VALIDATION_FAILED',
    /status/,
  ],
  ['status missing', 'PUT', '/agents/w1/status', '{}', 422, 'VALIDATION_FAILED', /status/],
  [
    'cpu_usage out of range',
    'POST',
    '/agents/w1/heartbeat',
    '{"load_metrics":{"cpu_usage":500}}',
    422,
    'VALIDATION_FAILED',
    /cpu_usage/,
  ],
  [
    'load_metrics a string',
    'POST',
    '/agents/w1/heartbeat',
    '{"load_metrics":"high"}',
    422,
    'VALIDATION_FAILED',
    /load_metrics/,
  ],
  ['bad agent id in path', 'GET', '/agents/%20bad', '', 422, 'VALIDATION_FAILED', /agent_id/],
  ['unknown route', 'GET', '/agents/w1/nothing', '', 404, 'NOT_FOUND', /no route/],
  ['wrong method', 'PATCH', '/agents/register', '', 405, 'HTTP_405', /./],
]

t.test('malformed requests get a 4xx that names the problem', async (t) => {
  await api(c.url, 'POST', '/agents/register', ok)
  for (const [what, method, path, body, status, code, text] of cases) {
    const res = await api(c.url, method, path, body === '' ? undefined : body)
    t.equal(res.status, status, `${what}: status`)
    t.equal(res.body.code, code, `${what}: code`)
    t.equal(res.body.status, 'error', `${what}: error body`)
    t.match(`${res.body.message} ${res.body.detail}`, text, `${what}: names the problem`)
    t.notMatch(JSON.stringify(res.body), /at .*\.(ts|js):\d+/, `${what}: no stack trace`)
  }
  // nothing above changed the registered agent or polluted prototypes
  const agent = (await api(c.url, 'GET', '/agents/w1')).body.agent as Record<string, unknown>
  t.equal(agent.agent_type, 'worker')
  t.equal(({} as Record<string, unknown>).admin, undefined)
})

t.test('a JSON body posted as a form is refused with 415 naming Content-Type (a page could send it without a preflight)', async (t) => {
  const res = await fetch(`${c.url}/agents/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: JSON.stringify({ agent_id: 'form-agent', agent_type: 'worker' }),
  })
  t.equal(res.status, 415)
  t.match(await res.json(), { code: 'UNSUPPORTED_MEDIA_TYPE', detail: /Content-Type: application\/json/ })
  t.equal((await api(c.url, 'GET', '/agents/form-agent')).status, 404, 'nothing registered')
})
