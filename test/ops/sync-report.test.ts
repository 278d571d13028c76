import { execFile } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { startChainStandIn } from '../fixtures/chain-rpc.js'
import { FAST_MESH, startCluster, stopCluster, waitForState } from '../fixtures/cluster.js'
import { api, BIN, type TestDaemon } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// Issue 28's untrue reports, against real daemons: no node has ops.gitDir; chain and config files are configured.
const run = promisify(execFile)
const redis = await startRedis()
t.teardown(() => redis.stop())
const scratch = mkdtempSync(join(tmpdir(), 'aitbc-reports-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
const calls = join(scratch, 'calls.log')
const manager = join(scratch, 'fake-systemctl')
writeFileSync(manager, `#!/bin/sh\necho "$@" >> '${calls}'\n`)
chmodSync(manager, 0o755)
const restarts = (): string => {
  try {
    return readFileSync(calls, 'utf8')
  } catch {
    return ''
  }
}

const names = ['genesis', 'follower', 'aitbc1']
const configFiles = Object.fromEntries(names.map((n) => {
  mkdirSync(join(scratch, n))
  const file = join(scratch, n, 'chain.yaml')
  writeFileSync(file, 'port: 8006\n')
  return [n, file]
}))
const chains = Object.fromEntries(await Promise.all(names.map(async (n) =>
  [n, await startChainStandIn({ height: n === 'aitbc1' ? 95 : 122, mempool: 4 })] as const)))
t.teardown(() => Promise.all(Object.values(chains).map((c) => c.close())))
const cluster = await startCluster({
  names,
  redisUrl: redis.url,
  args: [...FAST_MESH, '--set', 'redis.prefix="reports:"', '--set', `ops.serviceManager=${manager}`],
  nodeOptions: (name) => ({
    env: { BLOCKCHAIN_RPC_URL: chains[name]!.url },
    args: ['--set', `ops.configFiles=${JSON.stringify([configFiles[name]])}`],
  }),
})
t.teardown(() => stopCluster(cluster))
const [genesis, , third] = cluster.map((c) => c.daemon) as [TestDaemon, TestDaemon, TestDaemon]
for (const n of names) await waitForState(genesis, n, 'online', 10_000)
await waitFor('aitbc1 gossips height 95', async () =>
  ((await api(genesis.url, 'GET', '/nodes')).body.nodes_status as Record<string, { block_height: number | null }>).aitbc1?.block_height === 95)
const op = (body: Record<string, unknown>) => api(genesis.url, 'POST', '/ops', body)
interface Report {
  summary: string
  nodes_status: Record<string, { status: string, block_height: number | null }>
  recommendations: string[]
  issues: { node: string }[]
}

t.test('status with a node offline: bring it back, not sync, and no figure claimed for it', async (t) => {
  third.child.kill('SIGSTOP')
  t.teardown(() => {
    third.child.kill('SIGCONT')
  })
  const res = await op({ operation: 'status', target_node: 'all', timeout: 2 })
  third.child.kill('SIGCONT')
  const r = res.body as unknown as Report
  t.match(r, {
    validation_status: 'partial',
    summary: '2 of 3 nodes online, 1 did not answer',
    nodes_status: { genesis: { status: 'online', block_height: 122 }, follower: { status: 'online', block_height: 122 }, aitbc1: { status: 'offline', block_height: null } },
  })
  t.notOk(r.recommendations.some((x) => /sync/.test(x)), `no sync advice because of the offline node: ${JSON.stringify(r.recommendations)}`)
  t.ok(r.recommendations.some((x) => /^bring aitbc1 back/.test(x)), 'bring it back')
  await waitForState(genesis, 'aitbc1', 'online', 10_000)
})

t.test('a forced blockchain sync shows the heights it verified after the restart, the summary agrees', async (t) => {
  const pending = op({ operation: 'sync', target_node: 'all', sync_type: 'blockchain', force: true, timeout: 20 })
  await waitFor('restart requested', () => restarts().includes('restart aitbc-blockchain-node'), { timeoutMs: 15_000 })
  chains.aitbc1!.state.height = 122
  const res = await pending
  const r = res.body as unknown as Report
  t.match(r, {
    summary: 'blockchain sync: all in sync across 3 nodes',
    sync_result: 'success',
    validation_status: 'success',
    sync_details: { blockchain_synced: true, kinds: { blockchain: { state: 'synced' } } },
    issues: [],
  })
  for (const n of names) t.equal(r.nodes_status[n]?.block_height, 122, `${n} shown at the verified 122`)
})

t.test('sync --type all without ops.gitDir: not failed; git is not configured, with the key to set', async (t) => {
  const res = await op({ operation: 'sync', target_node: 'all', sync_type: 'all' })
  t.match(res.body, {
    sync_result: 'success',
    validation_status: 'success',
    sync_details: {
      blockchain_synced: true, mempool_synced: true, configuration_synced: true, git_synced: false,
      kinds: { git: { state: 'not_configured', config_key: 'ops.gitDir' }, blockchain: { state: 'synced' } },
    },
    issues: [],
    summary: /all in sync across 3 nodes; git not configured \(set ops\.gitDir\)/,
  })
  t.ok((res.body.recommendations as string[]).some((x) => /git sync is not configured.*ops\.gitDir/.test(x)), 'the key is named')
  const cli = await run(process.execPath, [BIN, '--url', genesis.url, 'sync', '--type', 'all']).catch((e: { code: number, stdout: string }) => e)
  t.match(cli, { stdout: /git not configured \(set ops\.gitDir\)/ }, 'the CLI says so')
  t.notOk('code' in cli && cli.code !== 0, 'and exits 0')
})
