import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { FAST_MESH, startCluster, stopCluster, waitForState } from '../fixtures/cluster.js'
import { api, BIN, type TestDaemon } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const run = promisify(execFile)
const redis = await startRedis()
t.teardown(() => redis.stop())
const names = ['genesis', 'follower', 'aitbc1']
const cluster = await startCluster({
  names, redisUrl: redis.url, args: [...FAST_MESH, '--set', 'redis.prefix="ops:"', '--set', 'ops.maxQueued=10'],
})
t.teardown(() => stopCluster(cluster))
const [genesis, follower, third] = cluster.map((c) => c.daemon) as [TestDaemon, TestDaemon, TestDaemon]
for (const n of names) await waitForState(genesis, n, 'online', 10_000)

const REPORT_KEYS = [
  'summary', 'operation', 'target_node', 'nodes_status', 'sync_result', 'sync_details', 'message_delivery', 'issues',
  'recommendations', 'confidence', 'execution_time', 'validation_status',
]

t.test('status --target all: the seed 000 report, every node verified live', async (t) => {
  const res = await api(genesis.url, 'POST', '/ops', { operation: 'status', target_node: 'all' })
  t.equal(res.status, 200)
  for (const k of REPORT_KEYS) t.ok(k in res.body, `report has ${k}`)
  t.match(res.body, {
    operation: 'status', target_node: 'all', validation_status: 'success', confidence: 1, issues: [],
    nodes_status: Object.fromEntries(names.map((n) => [n, { status: 'online', p2p_connections: 2, service_uptime: String }])),
  })
  t.same(Object.keys(res.body.nodes_status as object).sort(), [...names].sort())
  const again = await api(follower.url, 'GET', `/ops/${res.body.op_id}`)
  t.match(again.body, { operation: { state: 'done', node: 'genesis', report: { validation_status: 'success' } } }, 'the journal is readable from another daemon')
})

t.test('health of one node, and the message operation with receipts', async (t) => {
  const health = await api(genesis.url, 'POST', '/ops', { operation: 'health', target_node: 'follower' })
  t.match(health.body, { operation: 'health', target_node: 'follower', validation_status: 'success', nodes_status: { follower: { status: 'online' } } })
  t.same(Object.keys(health.body.nodes_status as object), ['follower'])
  const msg = await api(genesis.url, 'POST', '/ops', { operation: 'message', target_node: 'all', message: 'seed 000 says hi' })
  t.match(msg.body, { message_delivery: { sent: 2, delivered: 2, failed: 0 }, validation_status: 'success' })
  const inbox = await api(third.url, 'GET', '/messages/inbox')
  t.match((inbox.body.messages as { body: string }[])[0], { body: 'seed 000 says hi', from: 'genesis' })
})

t.test('errors come back in the documented shape', async (t) => {
  const unknown = await api(genesis.url, 'POST', '/ops', { operation: 'status', target_node: 'aitbc9' })
  t.equal(unknown.status, 422)
  t.match(unknown.body, { code: 'VALIDATION_FAILED', message: /unknown node "aitbc9"; valid targets: all, genesis, .*aitbc1/, detail: /aitbc-node nodes/ })
  t.match((await api(genesis.url, 'POST', '/ops', { operation: 'status', timeout: 121 })).body.message, /timeout: expected at most 120 seconds/)
  t.match((await api(genesis.url, 'POST', '/ops', { operation: 'reboot' })).body.message, /operation: expected one of status, health, sync, message, coordinate/)
  t.match((await api(genesis.url, 'POST', '/ops', { operation: 'message', target_node: 'all' })).body.message, /message: required/)
  t.match((await api(genesis.url, 'GET', '/ops/00000000-0000-4000-8000-000000000000')).body, { code: 'OPERATION_NOT_FOUND' })
})

t.test('a node that does not answer: the operation returns at its deadline, that node timed out, the others intact', async (t) => {
  third.child.kill('SIGSTOP')
  t.teardown(() => {
    third.child.kill('SIGCONT')
  })
  const started = Date.now()
  const res = await api(genesis.url, 'POST', '/ops', { operation: 'status', target_node: 'all', timeout: 2 })
  const took = Date.now() - started
  t.ok(took >= 1900 && took < 4000, `returned at the deadline (${took} ms)`)
  t.match(res.body, {
    validation_status: 'partial',
    nodes_status: { genesis: { status: 'online' }, follower: { status: 'online' }, aitbc1: { status: 'offline' } },
    issues: [{ node: 'aitbc1', step: 'verify', error: /no answer before the deadline/, suggestion: /increase timeout/ }],
  })
  t.equal(res.body.confidence, 0.67)
  third.child.kill('SIGCONT')
})

t.test('20 operations at once: never more than 5 running, the overflow gets 429', async (t) => {
  third.child.kill('SIGSTOP')
  t.teardown(() => {
    third.child.kill('SIGCONT')
  })
  const submits = await Promise.all(Array.from({ length: 20 }, () =>
    api(follower.url, 'POST', '/ops?wait=0', { operation: 'status', target_node: 'all', timeout: 1.5 })))
  const accepted = submits.filter((s) => s.status === 202)
  const refused = submits.filter((s) => s.status === 429)
  t.equal(accepted.length, 15, '5 running + 10 queued (ops.maxQueued=10)')
  t.equal(refused.length, 5)
  t.match(refused[0]?.body, { code: 'OPS_BUSY', message: /5 operations are running and 10 are waiting on follower/ })
  const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await (await fetch(`${follower.url}/metrics`)).text())?.[1])
  t.equal(await metric('aitbc_ops_running'), 5, 'five running')
  for (const s of accepted) {
    await waitFor(`operation ${s.body.op_id} done`, async () =>
      ((await api(follower.url, 'GET', `/ops/${s.body.op_id}`)).body.operation as { state: string }).state === 'done', { timeoutMs: 20_000, intervalMs: 100 })
  }
  t.equal(await metric('aitbc_ops_peak_running'), 5, 'the peak observed by the engine never passed 5')
  third.child.kill('SIGCONT')
})

t.test('progress as server-sent events', async (t) => {
  const res = await api(genesis.url, 'POST', '/ops', { operation: 'status', target_node: 'all' })
  const sse = await (await fetch(`${genesis.url}/ops/${res.body.op_id}/events`)).text()
  t.match(sse, /event: ?progress\nid: ?[^\n]+\ndata: ?\{[^\n]*"step":"verify"/)
  t.match(sse, /event: ?done\nid: ?[^\n]+\ndata: ?\{[^\n]*"validation_status":"success"/)
})

t.test('the CLI prints a line per node and exits 0, 2 or 1 like the report', async (t) => {
  await waitForState(genesis, 'aitbc1', 'online', 10_000)
  const ok = await run(process.execPath, [BIN, '--url', genesis.url, 'status', '--target', 'all'])
  t.match(ok.stdout, /^ {2}aitbc1 verify: answered$/m, 'a line per node as results arrive')
  t.match(ok.stdout, /3 of 3 nodes online \(success/)
  t.match(ok.stdout, /aitbc1\s+online/)
  const msg = await run(process.execPath, [BIN, '--url', genesis.url, '--json', 'message', '--target', 'all', 'hello from the CLI'])
  t.match(JSON.parse(msg.stdout), { operation: 'message', message_delivery: { sent: 2, delivered: 2, failed: 0 } })
  const json = await run(process.execPath, [BIN, '--url', genesis.url, '--json', 'health', '--target', 'follower'])
  t.match(JSON.parse(json.stdout), { operation: 'health', validation_status: 'success' })
  third.child.kill('SIGSTOP')
  const partial = await run(process.execPath, [BIN, '--url', genesis.url, 'status', '--timeout', '1']).catch((e: { code: number, stdout: string }) => e)
  third.child.kill('SIGCONT')
  t.match(partial, { code: 2, stdout: /! aitbc1 \[verify\] no answer before the deadline/ })
})

t.test('an operation cut off by a daemon restart is marked interrupted, not lost', async (t) => {
  third.child.kill('SIGSTOP')
  const res = await api(genesis.url, 'POST', '/ops?wait=0', { operation: 'status', target_node: 'all', timeout: 30 })
  t.equal(res.status, 202)
  const id = String(res.body.op_id)
  await waitFor('running', async () => ((await api(follower.url, 'GET', `/ops/${id}`)).body.operation as { state: string }).state === 'running')
  // Followed through another daemon: the stream must end when the restarted daemon marks it interrupted.
  const followed = fetch(`${follower.url}/ops/${id}/events`, { signal: AbortSignal.timeout(30_000) }).then((r) => r.text())
  await genesis.stop('SIGKILL', { keepData: true })
  third.child.kill('SIGCONT')
  const restarted = await cluster[0]!.restart()
  const rec = await waitFor('marked interrupted', async () => {
    const op = (await api(restarted.url, 'GET', `/ops/${id}`)).body.operation as { state: string, events: { step: string }[] }
    return op.state === 'interrupted' ? op : undefined
  })
  t.ok(rec.events.some((e) => e.step === 'interrupted'))
  t.ok(restarted.logs.some((l) => l.msg === 'operations cut off by the last stop are marked interrupted'))
  t.match(await followed, /event: ?progress\nid: ?\S+\ndata: ?[^\n]*"step":"interrupted"[\s\S]*event: ?done\nid: ?\S+\ndata: ?null\n\n$/,
    'the follower on another daemon hears interrupted, then done with no report, and the stream ends')
})
