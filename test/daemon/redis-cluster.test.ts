import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { api, startDaemon } from '../fixtures/daemon.js'
import { canBind, waitFor } from '../fixtures/poll.js'
import { startRedis, type TestRedis } from '../fixtures/redis-server.js'

const run = promisify(execFile)

// A real three-master Redis Cluster on loopback; the registry runs on it with a
// hash-tag prefix so every script's keys share one slot.
// Each node also needs its cluster bus port (port + 10000) free, so ports come from 20000-40000.
async function clusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 20000)
    if ((await canBind(port)) && (await canBind(port + 10000))) return port
  }
  throw new Error('no free port pair for a cluster node')
}
const nodes: TestRedis[] = []
for (let i = 0; i < 3; i++) {
  const extraArgs = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']
  nodes.push(await startRedis({ port: await clusterPort(), extraArgs }))
}
t.teardown(async () => {
  for (const n of nodes) await n.stop()
})
await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'])
await waitFor('the cluster to be ok', async () => {
  const { stdout } = await run('redis-cli', ['-p', String(nodes[0]!.port), 'cluster', 'info'])
  return stdout.includes('cluster_state:ok')
})

t.test('a redis+cluster:// URL serves the registry', async (t) => {
  const url = `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`
  const d = await startDaemon({ args: ['--redis-url', url, '--set', 'redis.prefix="{aitbc}:"'] })
  t.teardown(() => d.stop())
  const ready = d.logs.find((l) => l.msg === 'daemon ready') as { registry?: { kind: string } }
  t.equal(ready.registry?.kind, 'cluster')
  for (const id of ['c1', 'c2', 'c3']) {
    const capabilities = id === 'c3' ? ['llama2'] : ['gpu', 'llama2']
    t.equal((await api(d.url, 'POST', '/agents/register', { agent_id: id, agent_type: 'worker', capabilities })).status, 200)
  }
  t.equal((await api(d.url, 'POST', '/agents/c2/heartbeat', {})).status, 200)
  const found = await api(d.url, 'POST', '/agents/discover', { status: 'active' })
  t.equal(found.body.count, 3)
  // A small filter set is ranked by ZINTER across the index keys, which share the hash tag's slot.
  const gpu = await api(d.url, 'POST', '/agents/discover', { capabilities: ['gpu'] })
  t.same((gpu.body.agents as { agent_id: string }[]).map((a) => a.agent_id).sort(), ['c1', 'c2'])
  t.equal((await api(d.url, 'DELETE', '/agents/c3')).status, 200)
  t.equal((await api(d.url, 'GET', '/agents/c3')).status, 404)
  t.equal((await api(d.url, 'GET', '/health')).status, 200)

  // Tasks: the scripts' function library is on every primary, and a task goes through.
  t.equal((await api(d.url, 'POST', '/agents/register', { agent_id: 'w1', agent_type: 'worker' })).status, 200)
  const submitted = await api(d.url, 'POST', '/tasks/submit', { task_data: { n: 1 } })
  t.equal(submitted.status, 201)
  const next = await api(d.url, 'GET', '/agents/w1/tasks/next')
  t.equal((next.body.task as { task_id: string }).task_id, submitted.body.task_id)
  const done = await api(d.url, 'POST', `/tasks/${String(submitted.body.task_id)}/complete`, { agent_id: 'w1', result: 'ok' })
  t.equal(done.status, 200)
  for (const n of nodes) {
    const { stdout } = await run('redis-cli', ['-p', String(n.port), 'function', 'list'])
    t.match(stdout, /aitbc_tasks_[0-9a-f]{16}/, `the task library is on the primary at ${n.port}`)
  }
})
