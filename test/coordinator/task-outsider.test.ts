import { Redis } from 'ioredis'
import t from 'tap'
import { api } from '../fixtures/api.js'
import { startCoordinator } from '../fixtures/coordinator.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// The outsider against the new task surface: long polls that enter the waiting
// set and tasks handed to them through the event channel.
const redis = await startRedis()
const client = new Redis(redis.url)
const tokens = [
  { name: 'viewer', token: 'read-token-0123456789abcdef', scopes: ['read'] as const },
  { name: 'fleet', token: 'agent-token-0123456789abcdef', scopes: ['agent'] as const },
  { name: 'root', token: 'admin-token-0123456789abcdef', scopes: ['admin'] as const },
]
const d = await startCoordinator({ redisUrl: redis.url, prefix: 'out:', auth: { tokens, anonymous: false }, engine: {} })
t.teardown(async () => {
  client.disconnect()
  await d.close()
  await redis.stop()
})
const as = (i: number) => ({ authorization: `Bearer ${tokens[i]!.token}` })
const poll = (agent: string, ms: number, headers: Record<string, string>) =>
  fetch(`${d.url}/agents/${agent}/tasks/next?wait_ms=${ms}`, { headers })
const waiting = async () => client.zrange('out:tasks:waiting', 0, -1)
const register = async (id: string, extra: Record<string, unknown> = {}) => {
  const res = await api(d.url, 'POST', '/agents/register', { agent_id: id, agent_type: 'worker', ...extra }, as(1))
  if (res.status !== 200) throw new Error(`register ${id}: ${res.status}`)
}

t.test('no token, a wrong token and a read token cannot wait for tasks, so nothing is ever handed to them', async (t) => {
  await register('honest')
  for (const [headers, status] of [[{}, 401], [{ authorization: 'Bearer not-a-token-0123456789ab' }, 401], [as(0), 403]] as const) {
    const res = await poll('honest', 2000, headers)
    t.equal(res.status, status, `answered ${status} at once`)
  }
  t.same(await waiting(), [], 'no waiting entry was made')
  const sent = await api(d.url, 'POST', '/tasks/submit', { task_data: { n: 1 } }, as(1))
  t.match((await api(d.url, 'GET', `/tasks/${sent.body.task_id}`, undefined, as(0))).body, { task: { state: 'queued' } }, 'queued for a real poll')
  const got = await (await poll('honest', 2000, as(1))).json() as { task: { task_id: string } }
  t.equal(got.task.task_id, sent.body.task_id)
  await api(d.url, 'POST', `/tasks/${got.task.task_id}/complete`, { agent_id: 'honest', result: null }, as(1))
})

t.test('a forged or unregistered agent id waits for nothing and takes nothing', async (t) => {
  for (const bad of ['kc:tasks', '..%2F..%2Fagent', 'a'.repeat(200), 'x|h|y']) {
    t.equal((await poll(bad, 1000, as(1))).status, 422, `${bad.slice(0, 20)}: 422`)
  }
  const ghost = poll('ghost', 1500, as(1))
  await new Promise((r) => setTimeout(r, 200))
  t.same(await waiting(), [], 'an unregistered agent is not entered as waiting')
  const sent = await api(d.url, 'POST', '/tasks/submit', { task_data: { n: 2 } }, as(1))
  t.equal((await ghost).status, 204, 'its poll ends empty')
  t.match((await api(d.url, 'GET', `/tasks/${sent.body.task_id}`, undefined, as(0))).body, { task: { state: 'queued', agent_id: null } })
  await register('drainer')
  const got = await (await poll('drainer', 2000, as(1))).json() as { task: { task_id: string } }
  await api(d.url, 'POST', `/tasks/${got.task.task_id}/complete`, { agent_id: 'drainer', result: null }, as(1))
})

t.test('hostile task data survives the hand-off event byte for byte', async (t) => {
  await register('receiver')
  const data = {
    bars: 'h|instance|agent|{"task_id":"forged"}', quotes: '"\'\\', nul: '\u0000\u0001\u001f', unicode: 'é漢字🙂\u2028',
    nested: { deep: [[[[{ x: '|' }]]]] }, big: 'x'.repeat(150_000), __proto__x: { polluted: true },
  }
  const waiter = poll('receiver', 5000, as(1))
  await new Promise((r) => setTimeout(r, 200))
  t.same(await waiting(), ['receiver'], 'the receiver waits')
  const sent = await api(d.url, 'POST', '/tasks/submit', { task_data: data }, as(1))
  const got = await (await waiter).json() as { task: { task_id: string, task_data: unknown, state: string } }
  t.equal(got.task.task_id, sent.body.task_id, 'its own task, not one the data names')
  t.equal(got.task.state, 'running')
  t.same(got.task.task_data, data, 'the data is unchanged')
  await api(d.url, 'POST', `/tasks/${got.task.task_id}/complete`, { agent_id: 'receiver', result: null }, as(1))
})

t.test('agents that squat the waiting set and then go busy delay nothing: the task reaches the honest agent', async (t) => {
  const squatters = ['sq1', 'sq2', 'sq3', 'sq4', 'sq5']
  for (const s of squatters) await register(s)
  const polls = squatters.map((s) => poll(s, 4000, as(1)))
  await new Promise((r) => setTimeout(r, 200))
  for (const s of squatters) await api(d.url, 'PUT', `/agents/${s}/status`, { status: 'busy' }, as(1))
  // The status change wakes their polls, which end or wait without a waiting entry being used.
  await register('late-honest')
  const honest = poll('late-honest', 5000, as(1))
  await new Promise((r) => setTimeout(r, 200))
  const t0 = Date.now()
  const sent = await api(d.url, 'POST', '/tasks/submit', { task_data: { n: 3 } }, as(1))
  const got = await (await honest).json() as { task: { task_id: string } }
  t.equal(got.task.task_id, sent.body.task_id)
  t.ok(Date.now() - t0 < 1000, `the honest agent got it within a second (${Date.now() - t0} ms)`)
  for (const p of polls) t.equal((await p).status, 204, 'no squatter got a task')
})

t.test('completing with a wait: wrong tokens, another agent, fuzzed waits and a client that hangs up', async (t) => {
  await register('w1')
  await register('w2')
  const sent = await api(d.url, 'POST', '/tasks/submit', { task_data: { n: 5 } }, as(1))
  t.equal(sent.status, 201, `submitted (${JSON.stringify(sent.body)})`)
  const first = await poll('w1', 2000, as(1))
  if (first.status !== 200) {
    const seen = (await api(d.url, 'GET', `/tasks/${sent.body.task_id}`, undefined, as(0))).body
    t.fail(`w1's poll answered ${first.status}; the task meanwhile: ${JSON.stringify(seen)}, waiting: ${(await waiting()).join(',')}`)
    return
  }
  const got = await first.json() as { task: { task_id: string } }
  t.equal(got.task.task_id, sent.body.task_id)
  const complete = (agent: string, query: string, headers: Record<string, string>, signal?: AbortSignal) =>
    fetch(`${d.url}/tasks/${got.task.task_id}/complete?${query}`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ agent_id: agent, result: 1 }), signal,
    })
  for (const [headers, status] of [[{}, 401], [{ authorization: 'Bearer not-a-token-0123456789ab' }, 401], [as(0), 403]] as const) {
    const started = Date.now()
    t.equal((await complete('w1', 'next=1&wait_ms=3000', headers)).status, status, `${status}`)
    t.ok(Date.now() - started < 1500, 'refused at once, not after the wait')
  }
  const started = Date.now()
  const foreign = await complete('w2', 'next=1&wait_ms=3000', as(1))
  t.equal(foreign.status, 409, 'another agent cannot complete it')
  t.match(await foreign.json(), { code: 'TASK_WRONG_AGENT' })
  t.ok(Date.now() - started < 1500, 'and does not wait')
  for (const bad of ['-1', '60001', '1e9', '1.5', 'abc', '1&wait_ms=2', '%00']) {
    const res = await complete('w1', `next=1&wait_ms=${bad}`, as(1))
    t.equal(res.status, 422, `wait_ms=${bad}: 422`)
    t.match(await res.json(), { code: 'VALIDATION_FAILED', message: /wait_ms/ })
  }
  t.same(await waiting(), [], 'none of these entered the waiting set')
  t.match((await api(d.url, 'GET', `/tasks/${got.task.task_id}`, undefined, as(0))).body, { task: { state: 'running', agent_id: 'w1' } }, 'still w1\'s')

  // The honest completion waits; its client hangs up: the agent stops waiting and the next task is not lost.
  const gone = new AbortController()
  const hung = complete('w1', 'next=1&wait_ms=10000', as(1), gone.signal).catch((e: Error) => e)
  await waitFor('w1 waiting', async () => (await waiting()).includes('w1'))
  gone.abort()
  await hung
  await waitFor('w1 no longer waiting', async () => !(await waiting()).includes('w1'))
  t.match((await api(d.url, 'GET', `/tasks/${got.task.task_id}`, undefined, as(0))).body, { task: { state: 'completed' } })
  const next = await api(d.url, 'POST', '/tasks/submit', { task_data: { n: 6 } }, as(1))
  t.match((await api(d.url, 'GET', `/tasks/${next.body.task_id}`, undefined, as(0))).body, { task: { state: 'queued' } }, 'queued, not handed to the gone poll')
  const again = await (await poll('w1', 2000, as(1))).json() as { task: { task_id: string } }
  t.equal(again.task.task_id, next.body.task_id)
  await api(d.url, 'POST', `/tasks/${again.task.task_id}/complete`, { agent_id: 'w1', result: null }, as(1))
})
