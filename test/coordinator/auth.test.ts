import t from 'tap'
import { startCoordinator } from '../fixtures/coordinator.js'
import { api } from '../fixtures/api.js'
import { startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
const tokens = [
  { name: 'ops-team', token: 'read-token-0123456789abcdef', scopes: ['read'] as const },
  { name: 'worker-fleet', token: 'agent-token-0123456789abcdef', scopes: ['agent'] as const },
  { name: 'root', token: 'admin-token-0123456789abcdef', scopes: ['admin'] as const },
]
const c = await startCoordinator({ redisUrl: redis.url, auth: { tokens, anonymous: false } })
t.teardown(async () => {
  await c.close()
  await redis.stop()
})
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const agent = { agent_id: 'a1', agent_type: 'worker' }

t.test('missing, wrong and wrong-length tokens get 401', async (t) => {
  const none = await api(c.url, 'POST', '/agents/discover', {})
  t.equal(none.status, 401)
  t.equal(none.body.code, 'UNAUTHENTICATED')
  for (const bad of ['read-token-0123456789abcdeX', 'x', 'read-token-0123456789abcdef-and-more', '']) {
    const res = await api(c.url, 'POST', '/agents/discover', {}, { authorization: `Bearer ${bad}` })
    t.equal(res.status, 401, `token "${bad}"`)
  }
  const basic = await api(c.url, 'POST', '/agents/discover', {}, { authorization: 'Basic dXNlcjpwdw==' })
  t.equal(basic.status, 401)
  t.equal(basic.body.code, 'INVALID_TOKEN')
})

t.test('scopes: read cannot register, agent can, admin can do all', async (t) => {
  const readOnly = await api(c.url, 'POST', '/agents/register', agent, bearer(tokens[0]!.token))
  t.equal(readOnly.status, 403)
  t.match(readOnly.body, { code: 'FORBIDDEN', message: /ops-team/, detail: /agent/ })
  t.equal((await api(c.url, 'POST', '/agents/register', agent, bearer(tokens[1]!.token))).status, 200)
  t.equal((await api(c.url, 'POST', '/agents/discover', {}, bearer(tokens[0]!.token))).status, 200)
  t.equal((await api(c.url, 'GET', '/agents/a1', undefined, bearer(tokens[1]!.token))).status, 200)
  t.equal((await api(c.url, 'DELETE', '/agents/a1', undefined, bearer(tokens[0]!.token))).status, 403)
  t.equal((await api(c.url, 'DELETE', '/agents/a1', undefined, bearer(tokens[2]!.token))).status, 200)
})

t.test('/health stays open for load balancers; /metrics needs a token', async (t) => {
  t.equal((await api(c.url, 'GET', '/health')).status, 200)
  t.equal((await fetch(`${c.url}/metrics`)).status, 401)
  t.equal((await fetch(`${c.url}/metrics`, { headers: bearer(tokens[0]!.token) })).status, 200)
})
