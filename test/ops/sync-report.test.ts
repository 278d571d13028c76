import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { cliRun } from '../cli/run-cli.js'
import { api } from '../fixtures/api.js'
import { startChainStandIn } from '../fixtures/chain-rpc.js'
import { meshTestBed } from '../fixtures/mesh.js'
import { startOpsNode, type TestOpsNode } from '../fixtures/ops-node.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// Issue 28's untrue reports: three in-process nodes with their operations wired as the daemon wires
// them, on real libp2p, Redis and chain RPC stand-ins; no node has ops.gitDir; chain and config files are configured.
const { client, dir } = await meshTestBed(t, 'reports')
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
const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const)))
const nodes: Record<string, TestOpsNode> = {}
const start = async (name: string): Promise<void> => {
  nodes[name] = await startOpsNode({
    name, dir, port: ports[name]!, redis: client, prefix: 'reports:',
    peers: names.filter((p) => p !== name).map((p) => ({ name: p, address: `/ip4/127.0.0.1/tcp/${ports[p]}` })),
    maxConcurrent: 5, maxQueued: 20, defaultTimeoutMs: 60_000,
    serviceManager: manager, chainRpcUrl: chains[name]!.url, configFiles: [configFiles[name]!],
    api: name === 'genesis',
  })
}
for (const n of names) await start(n)
t.teardown(() => Promise.all(names.map((n) => nodes[n]!.stop())))
const genesis = nodes.genesis!
const waitForState = (name: string, state: string, timeoutMs = 10_000) =>
  waitFor(`${name} ${state}`, () => genesis.mesh.view.stateOf(name) === state, { timeoutMs })
for (const n of names.slice(1)) await waitForState(n, 'online')
/** POST /ops on genesis's API; each node's chain is read when its action runs. */
const op = (body: Record<string, unknown>) => api(genesis.url, 'POST', '/ops', body)
interface Report {
  summary: string
  nodes_status: Record<string, { status: string, block_height: number | null }>
  recommendations: string[]
  issues: { node: string }[]
}

t.test('status with a node offline: bring it back, not sync, and no figure claimed for it', async (t) => {
  await nodes.aitbc1!.stop()
  await waitForState('aitbc1', 'offline')
  const res = await op({ operation: 'status', target_node: 'all', timeout: 2 })
  await start('aitbc1')
  const r = res.body as unknown as Report
  t.match(r, {
    validation_status: 'partial',
    summary: '2 of 3 nodes online, 1 did not answer',
    nodes_status: { genesis: { status: 'online', block_height: 122 }, follower: { status: 'online', block_height: 122 }, aitbc1: { status: 'offline', block_height: null } },
  })
  t.notOk(r.recommendations.some((x) => /sync/.test(x)), `no sync advice because of the offline node: ${JSON.stringify(r.recommendations)}`)
  t.ok(r.recommendations.some((x) => /^bring aitbc1 back/.test(x)), 'bring it back')
  await waitForState('aitbc1', 'online')
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
  const cli = await cliRun(['--url', genesis.url, 'sync', '--type', 'all'])
  t.match(cli, { stdout: /git not configured \(set ops\.gitDir\)/ }, 'the CLI says so')
  t.notOk(cli.code !== 0, 'and exits 0')
})
