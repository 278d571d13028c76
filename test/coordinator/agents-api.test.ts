import t from 'tap'
import { startCoordinator } from '../fixtures/coordinator.js'
import { api } from '../fixtures/api.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
t.teardown(() => redis.stop())

// The seed 001 example, as written.
const hermes = {
  agent_id: 'hermes-agent',
  agent_type: 'worker',
  capabilities: ['data-processing', 'analysis', 'general'],
  services: ['task-execution', 'analysis'],
  endpoints: { http: 'http://localhost:9002' },
  metadata: { version: '1.0.0' },
}

t.test('seed 001 register and discover examples, and the redis-cli runbook', async (t) => {
  // prefix '' is the production layout: agent:{id} and agents:active
  const c = await startCoordinator({ redisUrl: redis.url, prefix: '' })
  t.teardown(() => c.close())
  const reg = await api(c.url, 'POST', '/agents/register', hermes)
  t.equal(reg.status, 200)
  t.match(reg.body, {
    status: 'success',
    message: 'Agent hermes-agent registered successfully',
    agent_id: 'hermes-agent',
    registered_at: String,
  })
  t.ok(!Number.isNaN(Date.parse(String(reg.body.registered_at))), 'registered_at is a timestamp')

  const disc = await api(c.url, 'POST', '/agents/discover', { status: 'active', agent_type: 'worker' })
  t.equal(disc.status, 200)
  t.match(disc.body, {
    status: 'success',
    count: 1,
    query: { status: 'active', agent_type: 'worker' },
    timestamp: String,
  })
  t.match((disc.body.agents as unknown[])[0], { ...hermes, status: 'active', health_score: 1 })

  // HGETALL agent:hermes-agent and SMEMBERS agents:active, as the operator guide does
  const hash = await c.redis.hgetall('agent:hermes-agent')
  t.equal(hash.status, 'active')
  t.equal(hash.agent_type, 'worker')
  t.same(JSON.parse(hash.capabilities ?? ''), hermes.capabilities)
  t.same(await c.redis.smembers('agents:active'), ['hermes-agent'])

  const v1 = await api(c.url, 'POST', '/v1/agents/discover', {})
  t.equal(v1.body.count, 1, 'same routes under /v1')
})

t.test('re-register updates fields and keeps the first registration time', async (t) => {
  const c = await startCoordinator({ redisUrl: redis.url })
  t.teardown(() => c.close())
  const first = await api(c.url, 'POST', '/agents/register', hermes)
  const second = await api(c.url, 'POST', '/agents/register', { ...hermes, capabilities: ['inference'] })
  t.equal(second.body.registered_at, first.body.registered_at)
  const got = await api(c.url, 'GET', '/agents/hermes-agent')
  t.same((got.body.agent as { capabilities: string[] }).capabilities, ['inference'])
})

t.test('get, heartbeat, status update, health score, delete', async (t) => {
  const c = await startCoordinator({ redisUrl: redis.url })
  t.teardown(() => c.close())
  await api(c.url, 'POST', '/agents/register', hermes)

  const hb = await api(c.url, 'POST', '/agents/hermes-agent/heartbeat', {
    load_metrics: { cpu_usage: 80, memory_usage: 40 },
  })
  t.equal(hb.status, 200)
  t.equal(hb.body.agent_status, 'active')
  let agent = (await api(c.url, 'GET', '/agents/hermes-agent')).body.agent as Record<string, unknown>
  t.equal(agent.health_score, 0.7, 'load 60% takes 30% off an active agent')
  t.same(agent.load_metrics, { cpu_usage: 80, memory_usage: 40 })

  const busy = await api(c.url, 'PUT', '/agents/hermes-agent/status', { status: 'busy' })
  t.equal(busy.body.agent_status, 'busy')
  agent = (await api(c.url, 'GET', '/agents/hermes-agent')).body.agent as Record<string, unknown>
  t.equal(agent.status, 'busy')
  t.equal(agent.health_score, 0.35, 'busy halves the score, load kept')
  t.same(await c.redis.smembers(`${c.prefix}agents:active`), [], 'busy agent leaves agents:active')

  const back = await api(c.url, 'PUT', '/agents/hermes-agent/status', { status: 'active', load_metrics: {} })
  t.equal(back.body.agent_status, 'active')
  t.same(await c.redis.smembers(`${c.prefix}agents:active`), ['hermes-agent'])

  const del = await api(c.url, 'DELETE', '/agents/hermes-agent')
  t.equal(del.status, 200)
  const gone = await api(c.url, 'GET', '/agents/hermes-agent')
  t.equal(gone.status, 404)
  t.match(gone.body, { status: 'error', code: 'AGENT_NOT_FOUND', message: /hermes-agent/ })
  t.equal((await api(c.url, 'DELETE', '/agents/hermes-agent')).status, 404)
  t.equal((await api(c.url, 'POST', '/agents/hermes-agent/heartbeat', {})).status, 404)
  t.equal((await api(c.url, 'PUT', '/agents/hermes-agent/status', { status: 'active' })).status, 404)
  t.equal(await c.redis.sismember(`${c.prefix}agents:active`, 'hermes-agent'), 0)
})

t.test('discover filters: string or list, min_health_score, limit, order', async (t) => {
  const c = await startCoordinator({ redisUrl: redis.url })
  t.teardown(() => c.close())
  const agents = [
    { agent_id: 'a1', agent_type: 'worker', capabilities: ['gpu', 'inference'], services: ['exec'] },
    { agent_id: 'a2', agent_type: 'worker', capabilities: ['inference'], services: ['exec', 'train'] },
    { agent_id: 'a3', agent_type: 'validator', capabilities: ['gpu'], services: [] },
  ]
  for (const a of agents) t.equal((await api(c.url, 'POST', '/agents/register', a)).status, 200)
  await api(c.url, 'POST', '/agents/a2/heartbeat', { load_metrics: { cpu_usage: 100, memory_usage: 100 } })

  const ids = async (q: unknown) =>
    ((await api(c.url, 'POST', '/agents/discover', q)).body.agents as { agent_id: string }[]).map(
      (a) => a.agent_id,
    )
  t.same(await ids({ capabilities: 'gpu' }), ['a1', 'a3'])
  t.same(await ids({ capabilities: ['gpu', 'inference'] }), ['a1'])
  t.same(await ids({ capabilities: 'gpu,inference' }), ['a1'], 'comma list in a string')
  t.same(await ids({ services: 'train' }), ['a2'])
  t.same(await ids({ agent_type: 'validator' }), ['a3'])
  t.same(await ids({ min_health_score: 0.9 }), ['a1', 'a3'])
  t.same(await ids({}), ['a1', 'a3', 'a2'], 'healthiest first')
  t.same(await ids({ limit: 1 }), ['a1'])
  t.same(await ids({ status: 'busy' }), [])
})

t.test('discover writes non-ASCII agent data as UTF-8 with the right length, and a count of tasks in flight past the usual', async (t) => {
  const c = await startCoordinator({ redisUrl: redis.url, prefix: 'utf8:' })
  t.teardown(() => c.close())
  const metadata = { owner: 'Zoë Ångström', note: '日本語 ✓ 🚀', quote: 'say "hi"\\n' }
  t.equal((await api(c.url, 'POST', '/agents/register', { ...hermes, agent_id: 'utf8-agent', metadata })).status, 200)
  await c.redis.hset(`utf8:agent:utf8-agent`, 'in_flight', '1000')
  const res = await fetch(`${c.url}/agents/discover`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  const bytes = Buffer.from(await res.arrayBuffer())
  t.equal(res.status, 200)
  t.equal(Number(res.headers.get('content-length')), bytes.length, 'Content-Length counts bytes, not characters')
  t.match(res.headers.get('content-type'), /^application\/json/)
  const body = JSON.parse(bytes.toString('utf8')) as { agents: { metadata: unknown, in_flight: number }[], count: number }
  t.same(body.agents[0]!.metadata, metadata, 'the text comes back as it was registered')
  t.equal(body.agents[0]!.in_flight, 1000)
  t.equal(body.count, 1)
})

t.test('two coordinators on one Redis see each other’s agents at once', async (t) => {
  const a = await startCoordinator({ redisUrl: redis.url, prefix: 'shared:' })
  const b = await startCoordinator({ redisUrl: redis.url, prefix: 'shared:' })
  t.teardown(async () => {
    await a.close()
    await b.close()
  })
  await api(a.url, 'POST', '/agents/register', { ...hermes, agent_id: 'aitbc1-worker' })
  const seen = await api(b.url, 'POST', '/agents/discover', {})
  t.same(
    (seen.body.agents as { agent_id: string }[]).map((x) => x.agent_id),
    ['aitbc1-worker'],
  )
  await api(b.url, 'DELETE', '/agents/aitbc1-worker')
  t.equal((await api(a.url, 'GET', '/agents/aitbc1-worker')).status, 404)
})

t.test(
  'stale after staleAfterMs, removed after removeAfterMs, each exactly once across sweepers',
  async (t) => {
    const a = await startCoordinator({ redisUrl: redis.url })
    const b = await startCoordinator({ redisUrl: redis.url, prefix: a.prefix })
    t.teardown(async () => {
      await a.close()
      await b.close()
    })
    await api(a.url, 'POST', '/agents/register', { ...hermes, agent_id: 'silent' })
    await api(a.url, 'POST', '/agents/register', { ...hermes, agent_id: 'chatty' })
    const marked: string[] = []
    const removed: string[] = []
    const sweep = async () => {
      const results = await Promise.all([a.registry.sweep(300, 1200), b.registry.sweep(300, 1200)])
      for (const r of results) {
        marked.push(...r.marked)
        removed.push(...r.removed)
      }
    }
    // A beat in flight when the coordinators close at teardown may fail; that is not what this test checks.
    const beat = setInterval(() => void api(a.url, 'POST', '/agents/chatty/heartbeat', {}).catch(() => {}), 50)
    t.teardown(() => clearInterval(beat))
    await waitFor('silent to go stale', async () => {
      await sweep()
      return marked.includes('silent')
    })
    const stale = (await api(b.url, 'GET', '/agents/silent')).body.agent as Record<string, unknown>
    t.equal(stale.status, 'stale')
    t.equal(stale.health_score, 0)
    t.equal(await a.redis.sismember(`${a.prefix}agents:active`, 'silent'), 0)
    await waitFor('silent to be removed', async () => {
      await sweep()
      return removed.includes('silent')
    })
    t.equal((await api(a.url, 'GET', '/agents/silent')).status, 404)
    t.same(
      marked.filter((x) => x === 'silent'),
      ['silent'],
      'marked stale exactly once',
    )
    t.same(
      removed.filter((x) => x === 'silent'),
      ['silent'],
      'removed exactly once',
    )
    t.notOk(marked.includes('chatty'), 'an agent that beats is never stale')
    const chatty = (await api(a.url, 'GET', '/agents/chatty')).body.agent as Record<string, unknown>
    t.equal(chatty.status, 'active')
  },
)

t.test('a stale agent that heartbeats is active again', async (t) => {
  const c = await startCoordinator({ redisUrl: redis.url })
  t.teardown(() => c.close())
  await api(c.url, 'POST', '/agents/register', hermes)
  await waitFor('stale', async () => (await c.registry.sweep(100, 100_000)).marked.length === 1)
  t.equal(
    ((await api(c.url, 'GET', '/agents/hermes-agent')).body.agent as { status: string }).status,
    'stale',
  )
  const hb = await api(c.url, 'POST', '/agents/hermes-agent/heartbeat')
  t.equal(hb.body.agent_status, 'active')
  t.same(await c.redis.smembers(`${c.prefix}agents:active`), ['hermes-agent'])
})

t.test('/health and /metrics', async (t) => {
  const c = await startCoordinator({ redisUrl: redis.url })
  t.teardown(() => c.close())
  const h = await api(c.url, 'GET', '/health')
  t.equal(h.status, 200)
  t.match(h.body, { status: 'healthy', checks: { redis: { ok: true, aof_enabled: true } } })
  await api(c.url, 'POST', '/agents/discover', {})
  const res = await fetch(`${c.url}/metrics`)
  const text = await res.text()
  t.match(text, /aitbc_http_requests_total\{method="POST",route="\/agents\/discover",status="200"\} 1/)
  t.match(text, /aitbc_http_request_duration_seconds_bucket/)
})
