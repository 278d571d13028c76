import t, { type Test } from 'tap'
import { type PullAgent, registerAgent, startPullAgent } from '../fixtures/agents.js'
import { api } from '../fixtures/api.js'
import { startCoordinator, type TestCoordinator } from '../fixtures/coordinator.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
t.teardown(() => redis.stop())

/** A coordinator using `strategy`, with agents that take tasks and hold them (never complete). */
async function setup(t: Test, strategy: string, agents: [string, Record<string, unknown>][]) {
  const d = await startCoordinator({ redisUrl: redis.url, prefix: `${strategy}:`, engine: { tasks: { strategy } } })
  t.teardown(() => d.close())
  const pulls: Record<string, PullAgent> = {}
  for (const [id, extra] of agents) {
    await registerAgent(d.url, id, { metadata: { capacity: 1000 }, ...extra })
    pulls[id] = startPullAgent(d.url, id, async () => 'ignore')
  }
  t.teardown(() => Promise.all(Object.values(pulls).map((p) => p.stop())))
  return { d, pulls }
}

/** Submits n tasks one after the other, each once the previous one is assigned; returns who got each. */
async function handOut(
  d: TestCoordinator,
  pulls: Record<string, PullAgent>,
  n: number,
  body: Record<string, unknown> = {},
): Promise<string[]> {
  const order: string[] = []
  for (let i = 0; i < n; i++) {
    const res = await api(d.url, 'POST', '/tasks/submit', { task_data: { i }, ...body })
    const id = String(res.body.task_id)
    const agent = await waitFor(`task ${i} handed out`, () =>
      Object.entries(pulls).find(([, p]) => p.received.some((r) => r.task_id === id))?.[0], { timeoutMs: 10_000 })
    order.push(agent)
  }
  return order
}

const count = (order: string[], id: string): number => order.filter((o) => o === id).length

t.test('least_connections follows the in-flight counts in Redis', async (t) => {
  const { d, pulls } = await setup(t, 'least_connections', [['busy', {}]])
  await handOut(d, pulls, 3)
  await registerAgent(d.url, 'idle', { metadata: { capacity: 1000 } })
  pulls.idle = startPullAgent(d.url, 'idle', async () => 'ignore')
  t.teardown(() => pulls.idle!.stop())
  const next = await handOut(d, pulls, 3)
  t.same(next, ['idle', 'idle', 'idle'], 'the agent with 0 in flight gets the next three')
  const status = await api(d.url, 'GET', '/tasks/status')
  t.match(status.body.stats, { tasks_in_flight: 6, load_balancer_stats: { strategy: 'least_connections', avg_agent_load: 3 } })
})

t.test('round_robin goes around in a fixed order', async (t) => {
  const { d, pulls } = await setup(t, 'round_robin', [['a', {}], ['b', {}], ['c', {}]])
  const order = await handOut(d, pulls, 9)
  t.same(order.slice(3), [...order.slice(0, 3), ...order.slice(0, 3)], `cycle repeats: ${order.join(',')}`)
  t.same(new Set(order.slice(0, 3)).size, 3, 'each agent once per cycle')
})

t.test('weighted_round_robin hands out in proportion to the weights', async (t) => {
  const { d, pulls } = await setup(t, 'weighted_round_robin', [['heavy', { metadata: { capacity: 1000, weight: 3 } }], ['light', { metadata: { capacity: 1000, weight: 1 } }]])
  const order = await handOut(d, pulls, 80)
  t.equal(count(order, 'heavy'), 60, '3 of every 4')
  t.equal(count(order, 'light'), 20)
})

t.test('resource_based prefers the least loaded agent', async (t) => {
  const { d, pulls } = await setup(t, 'resource_based', [
    ['hot', { load_metrics: { cpu_usage: 90, memory_usage: 80 } }],
    ['cool', { load_metrics: { cpu_usage: 10, memory_usage: 20 } }],
  ])
  t.same(await handOut(d, pulls, 4), ['cool', 'cool', 'cool', 'cool'])
  await api(d.url, 'POST', '/agents/cool/heartbeat', { load_metrics: { cpu_usage: 99, memory_usage: 99 } })
  t.same(await handOut(d, pulls, 2), ['hot', 'hot'], 'a heartbeat with a high load moves the work away')
})

t.test('geographic prefers the same region, then the nearest', async (t) => {
  const { d, pulls } = await setup(t, 'geographic', [
    ['fra', { metadata: { capacity: 1000, region: 'eu-central-1' } }],
    ['dub', { metadata: { capacity: 1000, region: 'eu-west-1' } }],
    ['nyc', { metadata: { capacity: 1000, region: 'us-east-1' } }],
  ])
  t.same(await handOut(d, pulls, 3, { requirements: { region: 'eu-west-1' } }), ['dub', 'dub', 'dub'])
  const nearest = await handOut(d, pulls, 4, { requirements: { region: 'eu-north-1' } })
  t.ok(nearest.every((n) => n === 'fra' || n === 'dub'), `eu-north-1 falls back to eu agents: ${nearest.join(',')}`)
  t.same(await handOut(d, pulls, 2, { requirements: { region: 'us-east-2' } }), ['nyc', 'nyc'])
})

t.test('random spreads the work', async (t) => {
  const { d, pulls } = await setup(t, 'random', [['a', {}], ['b', {}], ['c', {}]])
  const order = await handOut(d, pulls, 60)
  for (const id of ['a', 'b', 'c']) t.ok(count(order, id) >= 5, `${id} got ${count(order, id)} of 60`)
})
