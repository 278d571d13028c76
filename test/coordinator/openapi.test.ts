import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { checkContract, OPENAPI } from '../fixtures/contract.js'
import { api } from '../fixtures/api.js'
import { startCoordinator } from '../fixtures/coordinator.js'
import { startRedis } from '../fixtures/redis-server.js'

t.test('the document is valid OpenAPI 3.1 (swagger-parser) and covers every route', async (t) => {
  const doc = structuredClone(OPENAPI)
  await t.resolves(SwaggerParser.validate(doc as never), 'swagger-parser validates it')
  t.equal(OPENAPI.openapi, '3.1.0')
  const paths = OPENAPI.paths as Record<string, Record<string, { security: unknown, responses: Record<string, unknown> }>>
  const ops = Object.entries(paths).flatMap(([p, m]) => Object.keys(m).map((k) => `${k.toUpperCase()} ${p}`))
  // The 30 routes of the routers, /health and this document.
  t.equal(ops.length, 32, `every route is described (${ops.length})`)
  // Any one scope is enough (admin holds them all): alternatives, one requirement each.
  t.same(paths['/tasks/submit']?.post?.security, [{ bearer: ['agent'] }, { bearer: ['operate'] }, { bearer: ['admin'] }], 'the scopes are named')
  t.ok(paths['/tasks/submit']?.post?.responses['429'] && paths['/tasks/submit']?.post?.responses['413'], 'route-specific errors are listed')
  t.ok(paths['/agents/{id}']?.get?.responses['401'] && paths['/agents/{id}']?.get?.responses['404'], 'auth and not-found errors are listed')
  type WithExample = { requestBody: { content: { 'application/json': { example: { agent_id: string } } } } }
  const register = paths['/agents/register']?.post as unknown as WithExample
  t.equal(register.requestBody.content['application/json'].example.agent_id, 'hermes-agent', 'examples come from the seeds')
})

t.test('every daemon serves it at /openapi.json and /v1/openapi.json, without a token', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const tokens = [{ name: 'x', token: '0123456789abcdef0123', scopes: ['read'] as const }]
  const d = await startCoordinator({ redisUrl: redis.url, auth: { tokens, anonymous: false }, engine: {} })
  t.teardown(() => d.close())
  for (const path of ['/openapi.json', '/v1/openapi.json']) {
    const res = await api(d.url, 'GET', path)
    t.equal(res.status, 200)
    t.equal((res.body.info as { version: string }).version.length > 0, true)
    t.same(Object.keys(res.body.paths as object).sort(), Object.keys(OPENAPI.paths as object).sort(), `${path}: the same routes`)
  }
  t.equal((await api(d.url, 'GET', '/nodes')).status, 401, 'the API itself still wants the token')
})

t.test('the contract check fails when a response breaks its schema', async (t) => {
  const good = { status: 'success', message: 'Agent a registered successfully', agent_id: 'a', registered_at: new Date().toISOString() }
  t.doesNotThrow(() => checkContract('POST', '/agents/register', 200, good), 'a real shape passes')
  t.throws(() => checkContract('POST', '/agents/register', 200, { ...good, agent_id: 42 }), /off its documented schema at \/agent_id/, 'a wrong type fails')
  t.throws(() => checkContract('POST', '/v1/agents/register', 200, { status: 'success' }), /must have required property/, 'a missing field fails, under /v1 too')
  t.throws(() => checkContract('GET', '/tasks/status', 418, {}), /does not list/, 'an undocumented status fails')
  t.throws(() => checkContract('GET', '/agents/x', 404, { status: 'error', message: 'no code' }), /required property 'code'/, 'an error without its code fails')
  t.throws(() => checkContract('GET', '/no/such/route', 200, {}), /not in the OpenAPI document/, 'a success on an undocumented route fails')
  t.doesNotThrow(() => checkContract('GET', '/no/such/route', 404, { status: 'error', code: 'NOT_FOUND', message: 'x' }))
})
