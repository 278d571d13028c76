import type { IncomingMessage } from 'node:http'
import t from 'tap'
import type { OpReport } from '../../../src/ops/index.js'
import { serveLocal } from '../../fixtures/http-server.js'
import { cliRun } from '../run-cli.js'

// Seed 000 operations as the CLI follows them: POST /ops?wait=0, then the server-sent events. The daemon's
// side is tested in test/ops; here an HTTP server plays its answers so that each outcome can be chosen.
const OP = '00000000-0000-4000-8000-000000000000'

function report(validation: OpReport['validation_status']): OpReport {
  return {
    summary: `health of 1 node: ${validation}`, operation: 'health', target_node: 'solo',
    nodes_status: {
      solo: { status: 'online', block_height: 120, mempool_size: 3, p2p_connections: 2, service_uptime: '5m', last_sync: null },
    },
    sync_result: validation,
    sync_details: { blockchain_synced: true, mempool_synced: true, configuration_synced: true, git_synced: true },
    message_delivery: { sent: 0, delivered: 0, failed: 0 },
    issues: validation === 'success' ? [] : [{ node: 'solo', step: 'health', error: 'Redis runs without AOF (appendonly no)', suggestion: 'turn AOF on in the shared Redis: appendonly yes' }],
    recommendations: ['keep an eye on it'], confidence: 0.9, execution_time: 0.4, validation_status: validation,
    details: { checks: { solo: { redis: { ok: true, error: null }, aof: { ok: false, enabled: false }, eviction: { ok: true, policy: 'noeviction' }, disk: { ok: true, free_bytes: 5e10, path: '/' }, chain: { ok: true, height: null, error: null }, clock_skew_ms: 3 } } },
  }
}

/** An ops API whose one operation ends with `body` as its report; records what the CLI sent. */
async function opsApi(t: { teardown(fn: () => unknown): void }, done: OpReport | null) {
  const seen: { body: string, lastEventIds: (string | undefined)[] } = { body: '', lastEventIds: [] }
  const { url } = await serveLocal(t, (req: IncomingMessage, res) => {
    if (req.method === 'POST' && req.url === '/ops?wait=0') {
      req.on('data', (d: Buffer) => {
        seen.body += d.toString()
      })
      req.on('end', () => res.end(JSON.stringify({ status: 'success', op_id: OP })))
      return
    }
    if (req.url === `/ops/${OP}/events`) {
      seen.lastEventIds.push(req.headers['last-event-id'] as string | undefined)
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(`id: 1\nevent: progress\ndata: ${JSON.stringify({ node: 'solo', step: 'health', detail: 'checking' })}\n\n`)
      res.end(`id: 2\nevent: done\ndata: ${JSON.stringify(done)}\n\n`)
      return
    }
    res.writeHead(404)
    res.end('{}')
  })
  return { url, seen }
}

t.test('exit codes of seed 000: 0 success, 2 partial, 1 failed', async (t) => {
  for (const [status, code] of [['success', 0], ['partial', 2], ['failed', 1]] as const) {
    const { url } = await opsApi(t, report(status))
    const run = await cliRun(['--url', url, 'health', '--target', 'solo'])
    t.equal(run.code, code, `${status} exits ${code}`)
  }
})

t.test('the flags become the operation\'s body; progress lines, then the report as text', async (t) => {
  const { url, seen } = await opsApi(t, report('partial'))
  const run = await cliRun(['--url', url, 'health', '--target', 'solo', '--no-verify', '--force', '--timeout', '30'])
  t.same(JSON.parse(seen.body), { operation: 'health', target_node: 'solo', verify: false, force: true, timeout: 30 })
  const lines = run.stdout.split('\n')
  t.equal(lines[0], '  solo health: checking', 'a line per progress event')
  t.equal(lines[1], 'health of 1 node: partial (partial, confidence 0.9, 0.4 s)')
  t.match(lines[2], /^NODE\s+STATUS\s+HEIGHT\s+MEMPOOL\s+PEERS\s+UPTIME$/)
  t.match(lines[3], /^solo\s+online\s+120\s+3\s+2\s+5m$/)
  t.match(run.stdout, /deep checks:\nNODE\s+REDIS\s+AOF\s+EVICTION\s+DISK\s+CHAIN\s+CLOCK SKEW\nsolo\s+ok\s+FAIL \(off\)\s+ok \(noeviction\)\s+ok \(50\.0 GB free\)\s+none\s+ok \(3 ms\)\n/)
  t.match(run.stdout, /! solo \[health\] Redis runs without AOF \(appendonly no\)\n\s+-> turn AOF on in the shared Redis: appendonly yes/)
  t.match(run.stdout, /\* keep an eye on it/)
})

t.test('--json prints the report with its op_id and no progress lines', async (t) => {
  const { url } = await opsApi(t, report('success'))
  const run = await cliRun(['--url', url, '--json', 'sync', '--type', 'git'])
  t.equal(run.code, 0)
  t.match(JSON.parse(run.stdout), { op_id: OP, validation_status: 'success', details: { checks: { solo: { aof: { ok: false } } } } })
})

t.test('sync and coordinate: their own flags; coordinate needs --action; --timeout must be seconds', async (t) => {
  const { url, seen } = await opsApi(t, report('success'))
  await cliRun(['--url', url, 'coordinate', '--action', 'restart-chain', '--target', 'all'])
  t.match(JSON.parse(seen.body), { operation: 'coordinate', action: 'restart-chain', target_node: 'all', verify: true, force: false })
  const missing = await cliRun(['--url', url, 'coordinate'])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /required option '--action <name>' not specified/)
  const bad = await cliRun(['--url', url, 'status', '--timeout', 'soon'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, '--timeout expects seconds, e.g. --timeout 60')
})

t.test('an operation that ends without a report fails and says where to look', async (t) => {
  const { url } = await opsApi(t, null)
  const run = await cliRun(['--url', url, 'status'])
  t.equal(run.code, 1)
  t.match(run.stderr, `operation ${OP} ended without a report (its daemon stopped); see GET /ops/${OP}`)
})
