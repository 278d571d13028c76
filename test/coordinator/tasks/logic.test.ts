import t from 'tap'
import { z } from 'zod'
import type { AgentSlot } from '../../../src/coordinator/index.js'
import { requirementClassOf } from '../../../src/coordinator/tasks/requirement-class.js'
import { eligible, pickAgent } from '../../../src/coordinator/tasks/strategies.js'
import { newTaskId, taskIdTime } from '../../../src/coordinator/tasks/task-ids.js'
import { parseTaskEvent } from '../../../src/coordinator/tasks/task-wakeups.js'
import { slotFromHash } from '../../../src/coordinator/registry/agent.js'

const slot = (id: string, extra: Partial<AgentSlot> = {}): AgentSlot => ({
  agent_id: id, agent_type: 'worker', capabilities: [], services: [], health_score: 1, load: 0, in_flight: 0,
  capacity: 4, weight: 1, region: null, http: null, circuit: 'closed', probeAtMs: 0, pushFailures: 0, ...extra,
})

t.test('requirement classes: canonical, order-free, region-free', async (t) => {
  t.same(requirementClassOf({}), { id: '', json: '' })
  t.same(requirementClassOf({ region: 'eu-west-1', min_health_score: 0 }), { id: '', json: '' }, 'a preference is no filter')
  const a = requirementClassOf({ capabilities: ['gpu', 'cpu', 'gpu'], agent_type: 'trainer' })
  const b = requirementClassOf({ agent_type: 'trainer', capabilities: ['cpu', 'gpu'], region: 'us' })
  t.equal(a.id, b.id)
  t.match(a.id, /^[0-9a-f]{16}$/)
  t.same(JSON.parse(a.json), { agent_type: 'trainer', capabilities: ['cpu', 'gpu'] })
  t.not(requirementClassOf({ services: ['db'] }).id, requirementClassOf({ capabilities: ['db'] }).id)
})

t.test('task ids: UUIDv7, in the order made even within one millisecond, with their time', async (t) => {
  const now = Date.now()
  const ids = Array.from({ length: 5000 }, () => newTaskId(now))
  t.same([...ids].sort(), ids, 'sorted as made')
  t.equal(new Set(ids).size, ids.length)
  for (const id of ids.slice(0, 3)) t.ok(z.uuid().safeParse(id).success, `${id} is a UUID`)
  t.ok(Math.abs(taskIdTime(ids[0]!)! - now) <= 2, 'the time is in the id')
  t.equal(taskIdTime('8d1f0d4e-3b0a-4a5f-9e0c-6f1e2d3c4b5a'), null, 'a v4 id has no time')
  t.equal(taskIdTime('not an id'), null)
})

t.test('task events parse; anything else is ignored', async (t) => {
  t.same(parseTaskEvent('r|'), { kind: 'ready', requirementClass: '' })
  t.same(parseTaskEvent('r|abc'), { kind: 'ready', requirementClass: 'abc' })
  t.same(parseTaskEvent('d|1700000000000'), { kind: 'later', at: 1_700_000_000_000 })
  t.same(parseTaskEvent('a|agent-1'), { kind: 'assigned', agentId: 'agent-1' })
  t.same(parseTaskEvent('g'), { kind: 'agents' })
  for (const bad of ['', 'x|1', 'd|soon', 'a|']) t.equal(parseTaskEvent(bad), null, JSON.stringify(bad))
})

t.test('eligible: type, capabilities, services, health, room', async (t) => {
  const a = slot('a', { capabilities: ['cpu', 'gpu'], services: ['db'], health_score: 0.6 })
  t.ok(eligible(a, {}))
  t.ok(eligible(a, { capabilities: ['gpu'], services: ['db'], min_health_score: 0.5 }))
  t.notOk(eligible(a, { capabilities: ['tpu'] }))
  t.notOk(eligible(a, { agent_type: 'trainer' }))
  t.notOk(eligible(a, { min_health_score: 0.9 }))
  t.notOk(eligible({ ...a, in_flight: 4 }, {}), 'a full agent takes nothing')
})

t.test('strategies pick as named', async (t) => {
  const agents = [slot('c', { in_flight: 2, load: 10 }), slot('a', { in_flight: 1, load: 90 }), slot('b', { in_flight: 3, load: 5 })]
  t.equal(pickAgent('least_connections', agents, {}, 0)?.agent_id, 'a')
  t.equal(pickAgent('resource_based', agents, {}, 0)?.agent_id, 'b')
  t.same([0, 1, 2, 3].map((n) => pickAgent('round_robin', agents, {}, n)?.agent_id), ['a', 'b', 'c', 'a'])
  const weighted = [slot('x', { weight: 3 }), slot('y', { weight: 1 })]
  const turns = Array.from({ length: 40 }, (_, n) => pickAgent('weighted_round_robin', weighted, {}, n)?.agent_id)
  t.equal(turns.filter((x) => x === 'x').length, 30)
  const geo = [slot('fra', { region: 'eu-central-1', in_flight: 3 }), slot('dub', { region: 'eu-west-1' }), slot('us', { region: 'us-east-1' })]
  t.equal(pickAgent('geographic', geo, { region: 'eu-central-1' }, 0)?.agent_id, 'fra')
  t.equal(pickAgent('geographic', geo, { region: 'eu-north-1' }, 0)?.agent_id, 'dub', 'nearest: the eu agent with fewest in flight')
  t.ok(['fra', 'dub', 'us'].includes(pickAgent('random', geo, {}, 0)!.agent_id))
  t.equal(pickAgent('least_connections', [], {}, 0), undefined)
})

t.test('an agent hash becomes a slot through the registry\'s parser', async (t) => {
  const h = {
    agent_id: 'p', agent_type: 'worker', capabilities: '["cpu"]', services: '[]', status: 'active', health_score: '0.8',
    metadata: '{"capacity":7,"weight":2.5,"region":"eu-west-1"}', endpoints: '{"http":"http://127.0.0.1:9"}', in_flight: '3', load: '40',
  }
  t.match(slotFromHash(h, 4), { capacity: 7, weight: 2.5, region: 'eu-west-1', http: 'http://127.0.0.1:9', in_flight: 3, load: 40, capabilities: ['cpu'] })
  t.match(slotFromHash({ ...h, metadata: '{"capacity":"lots"}', endpoints: '{}' }, 4), { capacity: 4, weight: 1, region: null, http: null })
  t.equal(slotFromHash({}, 4), null)
})
