import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { registerAgent, startPushAgent } from '../fixtures/agents.js'
import { api, BIN, startDaemon, type TestDaemon } from '../fixtures/daemon.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// Issue 28, black hole 7: push agents that no push reaches (a closed port, a host name that
// does not resolve) beside a working one, through two real daemons on one real Redis.
const redis = await startRedis()
t.teardown(() => redis.stop())
const exec = promisify(execFile)

async function pair(prefix: string): Promise<[TestDaemon, TestDaemon]> {
  const args = ['--redis-url', redis.url, '--set', `redis.prefix="${prefix}"`, '--set', 'tasks.retryBackoffMs=50',
    '--set', 'tasks.pushCircuit.probeAfterMs=300', '--set', 'tasks.pushCircuit.maxProbeAfterMs=1000']
  const a = await startDaemon({ args: ['--name', 'genesis', ...args] })
  const b = await startDaemon({ args: ['--name', 'follower', ...args] })
  t.teardown(async () => {
    await a.stop()
    await b.stop()
  })
  return [a, b]
}

async function submit(d: TestDaemon): Promise<string> {
  const res = await api(d.url, 'POST', '/tasks/submit', { task_data: { n: 1 } })
  if (res.status !== 201) throw new Error(`submit: ${res.status} ${JSON.stringify(res.body)}`)
  return String(res.body.task_id)
}
const task = async (d: TestDaemon, id: string) => (await api(d.url, 'GET', `/tasks/${id}`)).body.task as Record<string, unknown>
type Circuit = { state: string, failures: number, since: string | null, last_error: string | null }
const agent = async (d: TestDaemon, id: string) => (await api(d.url, 'GET', `/agents/${id}`)).body.agent as { health_score: number, circuit: Circuit }
const metrics = async (d: TestDaemon) => (await fetch(`${d.url}/metrics`)).text()
const completed = { status: 200, body: { status: 'completed', result: 'ok' } }

t.test('dead push agents beside a working one: every task completed by the working one, none dead, no attempt lost', async (t) => {
  const [a, b] = await pair('hole:')
  const working = await startPushAgent(async () => completed)
  t.teardown(() => working.close())
  const closedPort = await freePort()
  // Ids that least_connections tries first (ties go by id), so the dead agents do get pushes.
  await registerAgent(a.url, 'a-refused', { endpoints: { http: `http://127.0.0.1:${closedPort}` } })
  await registerAgent(a.url, 'b-no-such-host', { endpoints: { http: 'http://my-host.invalid:9002' } })
  await registerAgent(b.url, 'z-working', { endpoints: { http: working.url } })

  const ids: string[] = []
  for (let i = 0; i < 12; i++) ids.push(await submit(i % 2 === 0 ? a : b))
  const done = await waitFor('all twelve finished', async () => {
    const all = await Promise.all(ids.map((id) => task(a, id)))
    return all.every((x) => x.state === 'completed' || x.state === 'dead' || x.state === 'failed') && all
  }, { timeoutMs: 30_000, intervalMs: 100 })
  t.same(done.map((x) => x.state), ids.map(() => 'completed'), 'every task completed, none dead-lettered')
  t.ok(done.every((x) => x.agent_id === 'z-working'), 'all by the working agent')
  t.same(done.map((x) => x.attempts), ids.map(() => 1), 'no attempt spent on a push that never reached its agent')
  t.same((await api(a.url, 'GET', '/tasks/dead')).body.tasks, [], 'no dead letters')

  // Both dead agents' circuits are open, seen the same through either daemon.
  for (const d of [a, b]) {
    const refused = await agent(d, 'a-refused')
    t.match(refused, { health_score: 0, circuit: { state: 'open', last_error: 'connection refused' } })
    t.ok(refused.circuit.failures >= 3 && refused.circuit.since !== null)
    t.match(await agent(d, 'b-no-such-host'), { health_score: 0, circuit: { state: 'open', last_error: 'host name not found' } })
  }
  t.match(await agent(a, 'z-working'), { health_score: 1, circuit: { state: 'closed', failures: 0 } })
  const discovered = (await api(a.url, 'POST', '/agents/discover', {})).body.agents as { agent_id: string }[]
  t.equal(discovered[0]!.agent_id, 'z-working', 'discover puts the reachable agent first')
  const m = await metrics(b)
  t.match(m, /aitbc_push_circuit_open\{agent="a-refused",state="open"\} 1/)
  t.match(m, /aitbc_push_circuit_open\{agent="b-no-such-host",state="open"\} 1/)
  t.ok(Number(/aitbc_push_events\{event="unreached"\} (\d+)/.exec(m)?.[1]) >= 6, 'unreached pushes counted')
  t.match(m, /aitbc_push_events\{event="circuits_opened"\} 2/)
  const list = await exec(process.execPath, [BIN, 'agents', 'list'], { env: { PATH: process.env.PATH, AITBC_URL: a.url } })
  t.match(list.stdout, /a-refused\s+worker\s+active\s+0\.00\s+open \(\d+ failed\)/)
  t.match(list.stdout, /z-working\s+worker\s+active\s+1\.00\s+closed/)
  const events = (await Promise.all(ids.map((id) => task(a, id))))
    .flatMap((x) => (x.history as { event: string }[]).map((h) => h.event))
  t.ok(events.includes('push to a-refused failed: connection refused; not counted as an attempt'), 'the history says what happened')
  t.ok(events.some((e) => /^push to (a-refused|b-no-such-host) failed: .*; circuit opened \(3 in a row\)$/.test(e)))
  t.ok([...a.logs, ...b.logs].some((l) => /^circuit of agent a-refused opened/.test(String(l.msg))))

  // The agent comes back on its port: the next probe push reaches it and closes its circuit.
  const back = await startPushAgent(async () => completed, closedPort)
  t.teardown(() => back.close())
  const more: string[] = []
  await waitFor('a-refused answers again', async () => {
    more.push(await submit(a))
    return (await agent(b, 'a-refused')).circuit.state === 'closed'
  }, { timeoutMs: 20_000, intervalMs: 200 })
  t.match(await agent(b, 'a-refused'), { health_score: 1, circuit: { state: 'closed', failures: 0, since: null } })
  t.ok(back.received.length >= 1, 'the probe was a real push')
  await waitFor('the later tasks completed', async () =>
    (await Promise.all(more.map((id) => task(a, id)))).every((x) => x.state === 'completed'), { timeoutMs: 20_000, intervalMs: 100 })
  const after = await metrics(a)
  t.notMatch(after, /aitbc_push_circuit_open\{agent="a-refused"/)
  t.match(after, /aitbc_push_circuit_open\{agent="b-no-such-host",state="(open|half_open)"\} 1/)
  t.match(after, /aitbc_push_events\{event="circuits_closed"\} 1/)
})

t.test('only a dead push agent: the task waits, never dead-lettered, and runs once the agent comes back', async (t) => {
  const [a] = await pair('lonely:')
  const port = await freePort()
  await registerAgent(a.url, 'lonely', { endpoints: { http: `http://127.0.0.1:${port}` } })
  const id = await submit(a)
  await waitFor('its circuit open', async () => (await agent(a, 'lonely')).circuit.state === 'open')
  // Probes after 300 ms, 600 ms, then every 1000 ms: wait until several failed.
  await waitFor('two probes failed', async () => (await agent(a, 'lonely')).circuit.failures >= 5, { timeoutMs: 15_000, intervalMs: 100 })
  t.match(await task(a, id), { state: 'queued', attempts: 0 }, 'still waiting, no attempt spent')
  const back = await startPushAgent(async () => completed, port)
  t.teardown(() => back.close())
  await waitFor('completed once the agent is back', async () => (await task(a, id)).state === 'completed', { timeoutMs: 15_000, intervalMs: 100 })
  t.match(await task(a, id), { state: 'completed', attempts: 1, agent_id: 'lonely' })
  t.match(await agent(a, 'lonely'), { health_score: 1, circuit: { state: 'closed' } })
})
