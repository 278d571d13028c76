import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startChainStandIn } from '../fixtures/chain-rpc.js'
import { ActionRefusedError } from '../../src/ops/index.js'
import { createGitFixture } from '../fixtures/git-repos.js'
import { meshTestBed } from '../fixtures/mesh.js'
import { startOpsNode, type TestOpsNode } from '../fixtures/ops-node.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// Three in-process nodes, each with its operations wired as the daemon wires them, on real
// libp2p, Redis, git and chain RPC stand-ins; operations are submitted as POST /ops would.
const { client, dir } = await meshTestBed(t, 'sync')
const repo = createGitFixture()
t.teardown(() => repo.remove())
const scratch = mkdtempSync(join(tmpdir(), 'aitbc-ops-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))

// The service manager stand-in records every call instead of touching systemd.
const calls = join(scratch, 'calls.log')
const manager = join(scratch, 'fake-systemctl')
writeFileSync(manager, `#!/bin/sh\necho "$@" >> '${calls}'\n`)
chmodSync(manager, 0o755)
const hang = join(scratch, 'hang')
writeFileSync(hang, `#!/bin/sh\necho $$ > '${join(scratch, 'hang.pid')}'\nexec sleep 300\n`)
chmodSync(hang, 0o755)
const calledWith = (): string => {
  try {
    return readFileSync(calls, 'utf8')
  } catch {
    return ''
  }
}

const names = ['genesis', 'follower', 'aitbc1']
// Every node keeps its chain.yaml in its own directory (one machine here); nodes compare files by name.
const sharedConfig = 'chain.yaml'
const configFiles = Object.fromEntries(names.map((n) => {
  const dir = join(scratch, n)
  mkdirSync(dir)
  const file = join(dir, sharedConfig)
  writeFileSync(file, 'port: 8006\n')
  return [n, file]
}))
const clones = Object.fromEntries(names.map((n) => [n, repo.clone(n)]))
const chains = Object.fromEntries(
  await Promise.all(names.map(async (n) => [n, await startChainStandIn({ height: 100, mempool: 5 })] as const)),
)
t.teardown(() => Promise.all(Object.values(chains).map((c) => c.close())))
const actions = {
  'health-script': { command: ['/bin/echo', 'all good'] },
  'restart-chain': { command: [manager, 'restart', 'aitbc-blockchain-node'], requiresForce: true, description: 'restarts the chain service' },
  'hang': { command: [hang], timeoutMs: 60_000 },
}
const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const)))
const nodes: TestOpsNode[] = []
for (const name of names) {
  const node = await startOpsNode({
    name, dir, port: ports[name]!, redis: client, prefix: 'sync:',
    peers: names.filter((p) => p !== name).map((p) => ({ name: p, address: `/ip4/127.0.0.1/tcp/${ports[p]}` })),
    maxConcurrent: 5, maxQueued: 20, defaultTimeoutMs: 60_000,
    serviceManager: manager, actions, chainRpcUrl: chains[name]!.url,
    gitDir: clones[name]!, configFiles: [configFiles[name]!],
  })
  nodes.push(node)
  t.teardown(() => node.stop())
}
const [genesis] = nodes as [TestOpsNode]
for (const n of names.slice(1)) await waitFor(`${n} online`, () => genesis.mesh.view.stateOf(n) === 'online', { timeoutMs: 10_000 })
/** POST /ops: the report as its 200 body. */
const op = async (body: Record<string, unknown>) =>
  ({ body: (await genesis.run(body)).report as unknown as Record<string, unknown> })
/** POST /ops refused before it starts: the route's 422 is this error. */
const refused = (body: Record<string, unknown>): unknown => {
  try {
    genesis.submit(body)
  } catch (err) {
    return err
  }
  return null
}

t.test('sync git brings every node to the same HEAD; a diverged copy is a conflict and left untouched', async (t) => {
  const hash = repo.pushCommit('second')
  const res = await op({ operation: 'sync', target_node: 'all', sync_type: 'git' })
  t.match(res.body, { sync_result: 'success', sync_details: { git_synced: true }, validation_status: 'success', issues: [] })
  for (const n of names) t.match(repo.head(clones[n]!), new RegExp(`^${hash} second`), `${n} at the new HEAD`)

  repo.pushCommit('third')
  const local = repo.localCommit(clones.aitbc1!, 'local work')
  const conflicted = await op({ operation: 'sync', target_node: 'all', sync_type: 'git', force: true })
  t.match(conflicted.body, {
    sync_result: 'failed',
    sync_details: { git_synced: false },
    validation_status: 'partial',
    issues: [{ node: 'aitbc1', step: 'git', error: /diverged: 1 local and 1 upstream commits/, suggestion: /resolve by hand/ }],
  })
  t.match(repo.head(clones.aitbc1!), new RegExp(`^${local} local work`), 'the diverged copy is untouched')
  t.match(repo.head(clones.follower!), /third/, 'the others moved on')
})

t.test('sync blockchain reports behind-by-n and, without force, restarts nothing', async (t) => {
  chains.genesis!.state.height = 120
  chains.follower!.state.height = 120
  chains.aitbc1!.state.height = 113
  const plain = await op({ operation: 'sync', target_node: 'all', sync_type: 'blockchain' })
  t.match(plain.body, {
    sync_details: { blockchain_synced: false },
    issues: [{ node: 'aitbc1', step: 'blockchain', error: 'behind genesis by 7 blocks (113 vs 120)' }],
    recommendations: [/--force to restart the chain service on aitbc1/],
  })
  t.equal(calledWith(), '', 'no restart without force')
})

t.test('sync blockchain --force across all: aitbc1 with a diverged git tree is not restarted', async (t) => {
  // The git checks of three nodes share this process: a longer deadline than the daemons had, so the check answers.
  const res = await op({ operation: 'sync', target_node: 'all', sync_type: 'blockchain', force: true, timeout: 10 })
  t.match(res.body.issues, [{ node: 'aitbc1', step: 'verify-git', error: /diverged/ }])
  t.equal(calledWith(), '', 'verify git before any forced operation: nothing restarted')
})

t.test('sync blockchain --force restarts the lagging node through the service manager', async (t) => {
  chains.follower!.state.height = 110
  const all = op({ operation: 'sync', target_node: 'all', sync_type: 'blockchain', force: true, timeout: 20 })
  await waitFor('restart requested', () => calledWith().includes('restart aitbc-blockchain-node'), { timeoutMs: 10_000 })
  chains.follower!.state.height = 120
  const res = await all
  t.match(res.body.issues, [{ node: 'aitbc1' }], 'only aitbc1 (diverged git) is left')
  t.notOk((res.body.issues as { node: string }[]).some((i) => i.node === 'follower'), 'the follower caught up')
})

t.test('mempool compares sizes across nodes', async (t) => {
  chains.follower!.state.mempool = 9
  const res = await op({ operation: 'sync', target_node: 'all', sync_type: 'mempool' })
  t.match(res.body, { sync_details: { mempool_synced: false } })
  t.ok((res.body.issues as { error: string }[]).some((i) => /mempool holds 9/.test(i.error)))
})

t.test('configuration: differences listed by file; with force the genesis file is copied, a backup kept', async (t) => {
  for (const n of names) writeFileSync(configFiles[n]!, n === 'follower' ? 'port: 8006\nmode: old\n' : 'port: 8006\n')
  const plain = await op({ operation: 'sync', target_node: 'all', sync_type: 'configuration' })
  t.match(plain.body, {
    sync_details: { configuration_synced: false },
    issues: [{ node: 'follower', step: 'configuration', error: `${sharedConfig} differs from genesis's`, suggestion: /run with force/ }],
  })
  t.equal(readFileSync(configFiles.follower!, 'utf8'), 'port: 8006\nmode: old\n', 'nothing changed without force')
  const forced = await op({ operation: 'sync', target_node: 'genesis', sync_type: 'configuration', force: true })
  t.match(forced.body, { sync_details: { configuration_synced: true } }, 'genesis alone is its own reference')
  const both = await op({ operation: 'sync', target_node: 'all', sync_type: 'configuration', force: true })
  // aitbc1's git is diverged (an earlier test), so only the follower may be changed.
  t.equal(readFileSync(configFiles.follower!, 'utf8'), 'port: 8006\n', 'the follower got genesis\'s file')
  t.match((both.body.recommendations as string[]).join('\n'), /copied from genesis to follower; the old one is .*aitbc-backup-/)
})

t.test('coordinate runs allowlisted actions only, force for changing ones, and stops at its deadline killing the process', async (t) => {
  const ok = await op({ operation: 'coordinate', target_node: 'all', action: 'health-script' })
  t.match(ok.body, { validation_status: 'success', summary: 'health-script: succeeded on 3 of 3 nodes' })
  const unknown = refused({ operation: 'coordinate', target_node: 'all', action: 'rm -rf /' })
  t.ok(unknown instanceof ActionRefusedError, 'refused before it starts (the route\'s 422)')
  t.match((unknown as Error).message, /action: "rm -rf \/" is not in ops.actions; allowed: health-script, restart-chain, hang/)
  const unforced = refused({ operation: 'coordinate', target_node: 'genesis', action: 'restart-chain' })
  t.ok(unforced instanceof ActionRefusedError, 'refused before it starts (the route\'s 422)')
  t.match((unforced as Error).message, /send force: true/)
  const before = calledWith()
  const forced = await op({ operation: 'coordinate', target_node: 'genesis', action: 'restart-chain', force: true })
  t.match(forced.body, { validation_status: 'success' })
  t.equal(calledWith().length > before.length, true, 'the restart ran through the allowlisted command')

  const started = Date.now()
  const hung = await op({ operation: 'coordinate', target_node: 'genesis', action: 'hang', timeout: 1.5 })
  t.ok(Date.now() - started < 4000, 'returned at the deadline')
  // Whichever deadline fires first says so: the operation's own, or the serving node's, which kills the action there.
  t.match(hung.body, {
    validation_status: 'failed',
    issues: [{ node: 'genesis', error: /no answer before the deadline|aborted|killed at the deadline with its process group/ }],
  })
  const pid = Number(readFileSync(join(scratch, 'hang.pid'), 'utf8'))
  await waitFor('the hung process is killed', () => {
    try {
      process.kill(pid, 0)
      return false
    } catch {
      return true
    }
  })
  t.pass(`process ${pid} is gone`)
})

t.test('seed 000 error cases: chain offline, restart failure, permission denied, each with node, step and suggestion', async (t) => {
  chains.follower!.state.failing = true
  const status = await op({ operation: 'status', target_node: 'follower' })
  t.match(status.body, {
    validation_status: 'failed',
    nodes_status: { follower: { status: 'degraded' } },
    issues: [{ node: 'follower', step: 'chain', error: /HTTP 500/, suggestion: /systemctl status aitbc-blockchain-node/ }],
  })
  chains.follower!.state.failing = false

  writeFileSync(manager, `#!/bin/sh\necho "$@" >> '${calls}'\necho "Job for $2.service failed" >&2\nexit 1\n`)
  chains.follower!.state.height = 90
  // Three nodes' git checks and restarts share this one process: a longer deadline than the daemons had.
  const restart = await op({ operation: 'sync', target_node: 'all', sync_type: 'blockchain', force: true, timeout: 10 })
  t.ok((restart.body.issues as { node: string, step: string, error: string, suggestion: string }[]).some((i) =>
    i.node === 'follower' && i.step === 'restart' && /Job for aitbc-blockchain-node.service failed/.test(i.error) && /journalctl/.test(i.suggestion)),
  'the failed restart is reported with systemd\'s words')
  chains.follower!.state.height = 120

  writeFileSync(hang, '#!/bin/sh\nexit 0\n')
  chmodSync(hang, 0o600)
  const denied = await op({ operation: 'coordinate', target_node: 'genesis', action: 'hang' })
  t.match(denied.body, { validation_status: 'failed', issues: [{ node: 'genesis', step: 'hang', error: /permission denied/, suggestion: /may run hang's command/ }] })
})
