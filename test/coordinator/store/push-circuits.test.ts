import { Redis } from 'ioredis'
import t from 'tap'
import { type AgentSlot, AgentRegistry, redisKeys, TaskRepository } from '../../../src/coordinator/index.js'
import { startRedis } from '../../fixtures/redis-server.js'

// The push circuit's scripts against a real redis-server, in this process: a push that never
// reached its agent is handed back uncounted, the circuit opens, leaves the agent out of claims,
// lets one probe through, and closes when the agent answers; heartbeats do not undo its health.
const redis = await startRedis()
const client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
t.teardown(async () => {
  client.disconnect()
  await redis.stop()
})

const day = { ageMs: 86_400_000, count: 10_000 }
const settings = { openAfterFailures: 3, probeAfterMs: 400, maxProbeAfterMs: 1000 }
let n = 0

async function setup() {
  const keys = redisKeys(`circ${n++}:`)
  const tasks = new TaskRepository(client, keys, {
    defaultTimeoutMs: 60_000, defaultMaxRetries: 1, maxQueueSize: 1000, retryBackoffMs: 0, agentCapacity: 4,
    defaultStrategy: 'least_connections', agingMs: null, retention: { completed: day, failed: day, dead: day },
  })
  const registry = new AgentRegistry(client, keys)
  await registry.register({
    agent_id: 'dead', agent_type: 'worker', capabilities: [], services: [], endpoints: { http: 'http://127.0.0.1:9' }, metadata: {},
  })
  const slot = async (): Promise<AgentSlot> => (await registry.activeSlots(4)).find((a) => a.agent_id === 'dead')!
  return { keys, tasks, registry, slot }
}

t.test('an unreached push is handed back uncounted; three in a row open the circuit, which leaves the agent out', async (t) => {
  const { tasks, registry, slot, keys } = await setup()
  const { task_id: id } = await tasks.submit({ task_data: {}, priority: 'normal', requirements: {} }, 'test')
  for (let i = 1; i <= 3; i++) {
    t.equal(await tasks.assign(id, await slot()), 'OK', `claim ${i}`)
    const out = await tasks.push.unreached(id, 'dead', 'connection refused', settings)
    t.same(out, { requeued: true, opened: i === 3, failures: i })
    const task = await tasks.get(id)
    t.match(task, { state: 'queued', attempts: 0, agent_id: null }, 'the attempt is not counted')
    t.equal((await registry.get('dead')).in_flight, 0, 'the slot is given back')
  }
  const { tasks: ready } = await tasks.readyTasks(10)
  t.same(ready.map((r) => r.avoid), [['dead']], 'the task says which agent its push did not reach')
  const history = (await tasks.get(id)).history.map((h) => h.event)
  t.same(history, [
    'push to dead failed: connection refused; not counted as an attempt',
    'push to dead failed: connection refused; not counted as an attempt',
    'push to dead failed: connection refused; not counted as an attempt; circuit opened (3 in a row)',
  ])

  const agent = await registry.get('dead')
  t.match(agent, { status: 'active', health_score: 0, circuit: { state: 'open', failures: 3, last_error: 'connection refused' } })
  t.ok(Date.parse(agent.circuit.next_probe_at!) > Date.now(), 'a probe comes later')
  t.equal(await client.zscore(keys.agentHealth, 'dead'), '0', 'discover ranks it last')
  await registry.heartbeat('dead', { cpu_usage: 0 })
  t.equal((await registry.get('dead')).health_score, 0, 'a heartbeat does not restore the health of an agent no push reaches')
  t.equal(await tasks.assign(id, await slot()), 'AGENT_UNAVAILABLE', 'an open circuit takes no task before its probe time')
  t.match(await tasks.push.open(), [{ agent_id: 'dead', state: 'open', failures: 3 }])
  t.match(await tasks.counters(), { push_unreached: 3, circuits_opened: 1, dead: undefined, retried: undefined })
})

t.test('after the backoff one push probes (half open): unreached reopens it for longer, an answer closes it', async (t) => {
  const { tasks, registry, slot } = await setup()
  const { task_id: id } = await tasks.submit({ task_data: {}, priority: 'normal', requirements: {} }, 'test')
  for (let i = 0; i < 3; i++) {
    await tasks.assign(id, await slot())
    await tasks.push.unreached(id, 'dead', 'host name not found', settings)
  }
  const firstProbe = Date.parse((await registry.get('dead')).circuit.next_probe_at!)
  const since = (await registry.get('dead')).circuit.since
  while (Date.now() < firstProbe + 5) await new Promise((r) => setTimeout(r, firstProbe + 5 - Date.now()))
  t.equal(await tasks.assign(id, await slot(), 5000), 'OK', 'the probe push is let through')
  t.equal((await registry.get('dead')).circuit.state, 'half_open')
  const { task_id: other } = await tasks.submit({ task_data: {}, priority: 'normal', requirements: {} }, 'test')
  t.equal(await tasks.assign(other, await slot()), 'AGENT_UNAVAILABLE', 'one probe at a time')
  t.match(await tasks.push.unreached(id, 'dead', 'host name not found', settings), { requeued: true, opened: true, failures: 4 })
  const reopened = await registry.get('dead')
  t.match(reopened.circuit, { state: 'open', since })
  t.ok(Date.parse(reopened.circuit.next_probe_at!) - Date.now() > settings.probeAfterMs, 'the next probe waits longer (doubled)')

  // The agent is back: a push it answers closes the circuit and restores its health.
  const back = Date.parse(reopened.circuit.next_probe_at!)
  while (Date.now() < back + 5) await new Promise((r) => setTimeout(r, back + 5 - Date.now()))
  t.equal(await tasks.assign(id, await slot(), 5000), 'OK')
  t.equal(await tasks.push.reached('dead', id), true, 'closed now')
  const closed = await registry.get('dead')
  t.match(closed, { health_score: 1, circuit: { state: 'closed', failures: 0, since: null, next_probe_at: null, last_error: null } })
  t.same(await tasks.push.open(), [])
  t.equal(await tasks.assign(other, await slot()), 'OK', 'it takes tasks again')
  t.equal((await tasks.get(id)).attempts, 1, 'only the push that reached it counted')
})

t.test('re-registering with new endpoints resets the circuit; the same endpoints keep it', async (t) => {
  const { tasks, registry, slot } = await setup()
  const { task_id: id } = await tasks.submit({ task_data: {}, priority: 'normal', requirements: {} }, 'test')
  for (let i = 0; i < 3; i++) {
    await tasks.assign(id, await slot())
    await tasks.push.unreached(id, 'dead', 'connection refused', settings)
  }
  const input = { agent_id: 'dead', agent_type: 'worker', capabilities: [], services: [], endpoints: { http: 'http://127.0.0.1:9' }, metadata: {} }
  await registry.register(input)
  t.match(await registry.get('dead'), { health_score: 0, circuit: { state: 'open' } })
  await registry.register({ ...input, endpoints: { http: 'http://127.0.0.1:10' } })
  t.match(await registry.get('dead'), { health_score: 1, circuit: { state: 'closed', failures: 0 } })
})

t.test('an answered push ends the run of failures even when the answering daemon saw none (failures not in a row)', async (t) => {
  const { tasks, registry, slot } = await setup()
  const submit = async () => (await tasks.submit({ task_data: {}, priority: 'normal', requirements: {} }, 'test')).task_id
  for (let i = 0; i < 2; i++) {
    const id = await submit()
    t.equal(await tasks.assign(id, await slot()), 'OK')
    await tasks.push.unreached(id, 'dead', 'connection refused', settings)
  }
  t.equal((await registry.get('dead')).circuit.failures, 2, 'two failures so far')
  // Another daemon's push reaches the agent: it reports the task running, and calls nothing else.
  const id = await submit()
  t.equal(await tasks.assign(id, await slot()), 'OK')
  t.equal(await tasks.report(id, 'dead', 'running', ''), 'OK')
  t.equal((await registry.get('dead')).circuit.failures, 0, 'the answer ended the run')
  const next = await submit()
  t.equal(await tasks.assign(next, await slot()), 'OK')
  t.same(await tasks.push.unreached(next, 'dead', 'connection refused', settings), { requeued: true, opened: false, failures: 1 },
    'a later failure starts a new run: the circuit does not open on failures that were not in a row')
})
