import { Redis } from 'ioredis'
import t from 'tap'
import { type Agent, AgentRegistry, redisKeys } from '../../../src/coordinator/index.js'
import { monitorRedis, startRedis } from '../../fixtures/redis-server.js'

const redis = await startRedis()
t.teardown(() => redis.stop())
const client = new Redis(redis.url)
t.teardown(() => client.disconnect())
let n = 0
const fresh = () => {
  const keys = redisKeys(`disc${n++}:`)
  return { keys, registry: new AgentRegistry(client, keys) }
}

/** A small deterministic generator, so that a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648
    return x / 2147483648
  }
}

const TYPES = ['worker', 'gpu-worker', 'validator']
const CAPS = ['gpu', 'llama2', 'sdxl', 'whisper']
const SERVICES = ['inference', 'training', 'storage']
const pick = (r: () => number, from: string[]) => from.filter(() => r() < 0.5)

/** What discover promised before the index: every agent read, filtered and ordered in JavaScript. */
async function reference(registry: AgentRegistry, ids: string[], q: Parameters<AgentRegistry['discover']>[0]): Promise<string[]> {
  const all: Agent[] = []
  for (const id of ids) all.push(await registry.get(id))
  return all
    .filter((a) => (q.status === undefined || a.status === q.status)
      && (q.agent_type === undefined || a.agent_type === q.agent_type)
      && (q.capabilities ?? []).every((c) => a.capabilities.includes(c))
      && (q.services ?? []).every((s) => a.services.includes(s))
      && (q.min_health_score === undefined || a.health_score >= q.min_health_score))
    .sort((a, b) => b.health_score - a.health_score || (a.agent_id < b.agent_id ? -1 : 1))
    .slice(0, q.limit)
    .map((a) => a.agent_id)
}

t.test('discover through the index answers exactly what a scan of every agent would, in the same order', async (t) => {
  const { registry } = fresh()
  const r = rng(7)
  const ids: string[] = []
  for (let i = 0; i < 150; i++) {
    const id = `agent-${i}`
    ids.push(id)
    await registry.register({
      agent_id: id, agent_type: TYPES[Math.floor(r() * 3)]!, capabilities: pick(r, CAPS), services: pick(r, SERVICES),
      endpoints: {}, metadata: {}, status: (['active', 'active', 'busy', 'maintenance'] as const)[Math.floor(r() * 4)],
      load_metrics: { cpu_usage: Math.floor(r() * 100), memory_usage: Math.floor(r() * 100) },
    })
  }
  // Some change after registering: heartbeats with another load, status changes.
  for (let i = 0; i < 150; i += 7) await registry.heartbeat(`agent-${i}`, { cpu_usage: 90, memory_usage: 90 })
  for (let i = 3; i < 150; i += 11) await registry.setStatus(`agent-${i}`, 'error')
  for (let k = 0; k < 60; k++) {
    const q = {
      status: r() < 0.4 ? (['active', 'busy', 'error', 'maintenance'] as const)[Math.floor(r() * 4)] : undefined,
      agent_type: r() < 0.5 ? TYPES[Math.floor(r() * 3)] : undefined,
      capabilities: r() < 0.6 ? pick(r, CAPS).slice(0, 2) : undefined,
      services: r() < 0.4 ? pick(r, SERVICES).slice(0, 1) : undefined,
      min_health_score: r() < 0.3 ? Math.round(r() * 100) / 100 : undefined,
      limit: [1, 5, 20, 100][Math.floor(r() * 4)]!,
    }
    const got = (await registry.discover(q)).map((a) => a.agent_id)
    t.same(got, await reference(registry, ids, q), JSON.stringify(q))
  }
})

t.test('a rare capability among many agents (ranked by ZINTER, not walked) answers as the scan would, in Redis time of a small set', async (t) => {
  const { registry } = fresh()
  const r = rng(11)
  const ids: string[] = []
  await Promise.all(Array.from({ length: 1200 }, (_, i) => {
    const id = `rare-${i}`
    ids.push(id)
    return registry.register({
      agent_id: id, agent_type: i % 3 === 0 ? 'validator' : 'worker', capabilities: i % 12 === 0 ? ['gpu', 'llama2'] : ['llama2'],
      services: [], endpoints: {}, metadata: {}, status: (['active', 'active', 'busy'] as const)[i % 3],
      load_metrics: { cpu_usage: Math.floor(r() * 100), memory_usage: Math.floor(r() * 100) },
    })
  }))
  // 100 gpu agents: more than a page (64-80) of the walk, few beside the 1,200 a walk would pass over.
  for (const q of [
    { capabilities: ['gpu'], limit: 20 },
    { capabilities: ['gpu'], agent_type: 'worker', limit: 20 },
    { capabilities: ['gpu'], status: 'busy' as const, limit: 20 },
    { capabilities: ['gpu'], min_health_score: 0.5, limit: 100 },
    { capabilities: ['gpu', 'llama2'], limit: 5 },
    { capabilities: ['llama2'], limit: 20 },
  ]) t.same((await registry.discover(q)).map((a) => a.agent_id), await reference(registry, ids, q), JSON.stringify(q))
  await client.config('RESETSTAT')
  for (let i = 0; i < 20; i++) await registry.discover({ capabilities: ['gpu'], limit: 20 })
  const stats = await client.info('commandstats')
  t.notOk(/cmdstat_zrangebyscore:/.test(stats) || /cmdstat_smismember:/.test(stats), 'the zset is not walked for a small set')
  t.match(stats, /cmdstat_zinter:calls=20,/, 'one ZINTER per discover')
})

t.test('the index follows re-registration, removal and the sweeper', async (t) => {
  const { keys, registry } = fresh()
  const base = { endpoints: {}, metadata: {}, services: ['inference'] }
  await registry.register({ ...base, agent_id: 'a', agent_type: 'worker', capabilities: ['gpu', 'llama2'] })
  await registry.register({ ...base, agent_id: 'b', agent_type: 'worker', capabilities: ['gpu'] })
  t.same((await registry.discover({ capabilities: ['gpu'], limit: 10 })).map((a) => a.agent_id), ['a', 'b'])

  await registry.register({ ...base, agent_id: 'a', agent_type: 'validator', capabilities: ['sdxl'], services: [] })
  t.same((await registry.discover({ capabilities: ['gpu'], limit: 10 })).map((a) => a.agent_id), ['b'], 'out of its old capability')
  t.same((await registry.discover({ agent_type: 'worker', limit: 10 })).map((a) => a.agent_id), ['b'], 'out of its old type')
  t.same((await registry.discover({ services: ['inference'], limit: 10 })).map((a) => a.agent_id), ['b'], 'out of its old service')
  t.same((await registry.discover({ agent_type: 'validator', capabilities: ['sdxl'], limit: 10 })).map((a) => a.agent_id), ['a'])

  await registry.setStatus('b', 'busy')
  await registry.register({ ...base, agent_id: 'c', agent_type: 'worker', capabilities: ['gpu'] })
  t.same((await registry.discover({ capabilities: ['gpu'], limit: 10 })).map((a) => a.agent_id), ['c', 'b'], 'health order follows status')

  await registry.remove('a')
  t.equal(await client.sismember(keys.agentsByType('validator'), 'a'), 0)
  t.equal(await client.sismember(keys.agentsByCapability('sdxl'), 'a'), 0)
  t.equal(await client.zscore(keys.agentHealth, 'a'), null)

  // Stale: health 0, ordered last; removed by the sweeper: out of every set.
  await client.zadd(keys.agentHeartbeats, 0, 'c')
  const swept = await registry.sweep(1000, 10 ** 13)
  t.same(swept.marked, ['c'])
  t.same((await registry.discover({ capabilities: ['gpu'], limit: 10 })).map((a) => a.agent_id), ['b', 'c'])
  await client.zadd(keys.agentHeartbeats, 0, 'c')
  t.same((await registry.sweep(1000, 2000)).removed, ['c'])
  t.equal(await client.sismember(keys.agentsByCapability('gpu'), 'c'), 0)
  t.equal(await client.zscore(keys.agentHealth, 'c'), null)
  t.same((await registry.discover({ capabilities: ['gpu'], limit: 10 })).map((a) => a.agent_id), ['b'])
})

t.test('a registry older than the index is indexed once, at start', async (t) => {
  const { keys, registry } = fresh()
  // Agents as an older daemon wrote them: the hash and the status sets only.
  for (const id of ['old-1', 'old-2']) {
    await client.hset(keys.agent(id), 'agent_id', id, 'agent_type', 'worker', 'capabilities', '["gpu"]', 'services', '[]',
      'endpoints', '{}', 'metadata', '{}', 'status', 'active', 'health_score', id === 'old-1' ? '0.500' : '0.900',
      'registered_at', new Date().toISOString(), 'updated_at', new Date().toISOString(), 'last_heartbeat', new Date().toISOString())
    await client.sadd(keys.allAgents, id)
    await client.sadd(keys.activeAgents, id)
  }
  t.same(await registry.discover({ capabilities: ['gpu'], limit: 10 }), [], 'not in the index yet')
  t.equal(await registry.buildIndex(), 2)
  t.same((await registry.discover({ capabilities: ['gpu'], limit: 10 })).map((a) => a.agent_id), ['old-2', 'old-1'])
  t.equal(await registry.buildIndex(), -1, 'only once')
})

t.test('discover reads only the agents its answer needs', async (t) => {
  const { registry } = fresh()
  await Promise.all(Array.from({ length: 1000 }, (_, i) => registry.register({
    agent_id: `many-${i}`, agent_type: i % 2 === 0 ? 'worker' : 'validator', capabilities: i % 10 === 0 ? ['gpu'] : [],
    services: [], endpoints: {}, metadata: {},
  })))
  await registry.heartbeat('many-999')
  const seen = await monitorRedis(redis.port)
  const top = await registry.discover({ limit: 10 })
  const gpu = await registry.discover({ agent_type: 'worker', capabilities: ['gpu'], limit: 1000 })
  await new Promise((r) => setTimeout(r, 50))
  seen.stop()
  t.equal(top.length, 10)
  t.equal(gpu.length, 100)
  const hashReads = seen.lines.filter((l) => /"hgetall"/i.test(l)).length
  t.ok(hashReads <= 50 + 100, `${hashReads} agent hashes read for answers of 10 and 100 agents out of 1000`)
})

t.test('parsed agents are reused only at the revision Redis holds: a change through another daemon shows at once', async (t) => {
  const { keys, registry: a } = fresh()
  const b = new AgentRegistry(client, keys)
  const base = { agent_type: 'worker', capabilities: ['gpu'], services: [], endpoints: {}, metadata: {} }
  await b.register({ ...base, agent_id: 'x' })
  await b.register({ ...base, agent_id: 'y' })
  t.match(await a.discover({ capabilities: ['gpu'], limit: 10 }), [{ agent_id: 'x', status: 'active' }, { agent_id: 'y' }])

  const seen = await monitorRedis(redis.port)
  t.match(await a.discover({ capabilities: ['gpu'], limit: 10 }), [{ agent_id: 'x' }, { agent_id: 'y' }])
  await new Promise((r) => setTimeout(r, 50))
  seen.stop()
  t.same(seen.lines.filter((l) => /"hgetall"/i.test(l)), [], 'unchanged agents are not read again')

  await b.setStatus('x', 'maintenance', { cpu_usage: 50 })
  t.match(await a.discover({ capabilities: ['gpu'], limit: 10 }), [{ agent_id: 'y' }, { agent_id: 'x', status: 'maintenance', load_metrics: { cpu_usage: 50 } }])
  await b.heartbeat('y', { cpu_usage: 100, memory_usage: 100 })
  t.match(await a.discover({ capabilities: ['gpu'], limit: 10 }), [{ agent_id: 'y', load_metrics: { cpu_usage: 100 } }, { agent_id: 'x' }])
  // The runbook's removal by hand: the hash goes, the index still names it; never answered.
  await client.del(keys.agent('y'))
  t.same((await a.discover({ capabilities: ['gpu'], limit: 10 })).map((x) => x.agent_id), ['x'])
})

t.test('the parsed-agent cache is bounded, oldest first', async (t) => {
  const { AgentCache, cachedAgent } = await import('../../../src/coordinator/registry/agent-cache.js')
  const cache = new AgentCache(3)
  const agent = (id: string) => ({ agent_id: id, in_flight: 0 }) as Agent
  for (const id of ['a', 'b', 'c', 'd', 'e']) cache.set(id, cachedAgent('1', agent(id)))
  t.equal(cache.size, 3)
  t.equal(cache.get('a', '1'), undefined)
  t.equal(cache.get('e', '1')?.agent.agent_id, 'e')
  t.equal(cache.get('e', '2'), undefined, 'another revision is a miss')
})

t.test('discover answers tasks in flight as Redis holds them now, though they do not change the revision', async (t) => {
  const { keys, registry } = fresh()
  const base = { agent_type: 'worker', capabilities: ['gpu'], services: [], endpoints: {}, metadata: {} }
  await registry.register({ ...base, agent_id: 'busy' })
  t.match(await registry.discover({ limit: 10 }), [{ agent_id: 'busy', in_flight: 0 }])
  // What the task scripts do when they hand the agent a task: in_flight moves, the revision does not.
  await client.hincrby(keys.agent('busy'), 'in_flight', 3)
  t.match(await registry.discover({ limit: 10 }), [{ agent_id: 'busy', in_flight: 3 }], 'the cached agent, with in_flight read now')
  const { count, parts } = await registry.discoverJson({ limit: 10 })
  t.equal(count, 1)
  t.same(JSON.parse(Buffer.concat(parts).toString()), await registry.discover({ limit: 10 }), 'the JSON answer is the agents discover() returns')
  await registry.setStatus('busy', 'maintenance')
  t.match(JSON.parse(Buffer.concat((await registry.discoverJson({ limit: 10 })).parts).toString()), [{ agent_id: 'busy', status: 'maintenance', in_flight: 3 }])
})
