import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { privateKeyToProtobuf } from '@libp2p/crypto/keys'
import t from 'tap'
import { FAST_MESH } from '../fixtures/cluster.js'
import { api, startDaemon, type TestDaemon } from '../fixtures/daemon.js'
import { createGitFixture } from '../fixtures/git-repos.js'
import { canUseNetns, createNetwork, type TestNetwork } from '../fixtures/netns.js'
import { newIdentity } from '../fixtures/outsider.js'
import { GiveUp, waitFor } from '../fixtures/poll.js'
import { writePskFile } from '../fixtures/psk.js'

// Three hosts, each in its own network namespace with its own address; the
// daemons listen on those addresses (not loopback) with a PSK and API tokens;
// a password-protected Redis with AOF on lives on a fourth host; an intruder
// on a fifth runs a plain libp2p peer, once without the key and once with it.
if (!canUseNetns()) {
  t.test('multi-host cluster', {
    skip: 'SKIPPED: the multi-host test needs root and iproute2 to create Linux network namespaces; run the suite as root (CI does)',
  }, () => {})
} else {
  await multiHost()
}

async function multiHost(): Promise<void> {
  const net = createNetwork(5)
  t.teardown(() => net.destroy())
  const scratch = mkdtempSync(join(tmpdir(), 'aitbc-hosts-'))
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
  const redisHost = net.nodes[3]!
  const redis = await startNetnsRedis(net, 3, scratch)
  t.teardown(() => redis.stop())

  const token = 'cluster-admin-token-0123456789'
  const auth = { authorization: `Bearer ${token}` }
  const psk = writePskFile()
  const git = createGitFixture()
  t.teardown(() => git.remove())
  const marker = join(scratch, 'mark.log')
  const names = ['genesis', 'follower', 'node3']
  const ids = await Promise.all(names.map(() => newIdentity()))
  const p2p = (i: number): string => `${net.nodes[i]!.meshIp}:7070`
  const clones = Object.fromEntries(names.map((n) => [n, git.clone(n)]))
  const daemons: TestDaemon[] = []
  t.teardown(() => Promise.all(daemons.map((d) => d.stop())))
  for (const [i, name] of names.entries()) {
    const dataDir = join(scratch, name)
    mkdirSync(dataDir, { recursive: true })
    writeFileSync(join(dataDir, 'node.key'), privateKeyToProtobuf(ids[i]!.key), { mode: 0o600 })
    const peers = names.flatMap((other, j) => (j === i ? [] : ['--peer', `${other}=${p2p(j)}@${ids[j]!.peerId}`]))
    daemons.push(await startDaemon({
      wrap: ['ip', 'netns', 'exec', net.nodes[i]!.ns],
      host: net.nodes[i]!.controlIp,
      p2pHost: net.nodes[i]!.meshIp,
      p2pPort: 7070,
      port: 9001,
      dataDir,
      env: { AITBC_P2P_PSK_FILE: psk, AITBC_API_TOKEN: token },
      args: [
        '--name', name, '--redis-url', `redis://:${redis.password}@${redisHost.meshIp}:6379`, ...peers, ...FAST_MESH,
        '--set', `ops.gitDir=${clones[name]}`,
        '--set', `ops.actions=${JSON.stringify({ mark: { command: ['/bin/sh', '-c', `echo ${name} >> ${marker}`] } })}`,
      ],
    }))
  }
  const [genesis, follower, node3] = daemons as [TestDaemon, TestDaemon, TestDaemon]
  const call = (d: TestDaemon, method: string, path: string, body?: unknown) => api(d.url, method, path, body, auth)
  const view = async (d: TestDaemon) => (await call(d, 'GET', '/nodes')).body as { nodes_status: Record<string, { status: string, peer_id: string }>, refusals: Record<string, number> }
  for (const d of daemons) {
    await waitFor('all three online', async () => Object.values((await view(d)).nodes_status).every((n) => n.status === 'online') && Object.keys((await view(d)).nodes_status).length === 3, { timeoutMs: 20_000 })
  }

  t.test('the API refuses a request without the token on a non-loopback address', async (t) => {
    t.equal((await api(genesis.url, 'GET', '/nodes')).status, 401)
    t.match(genesis.logs.find((l) => l.msg === 'daemon ready'), { meshSecurity: 'psk', anonymous: false })
  })

  t.test('seed 000\'s operations work across the three hosts', async (t) => {
    type Report = {
      validation_status: string
      nodes_status: Record<string, { status: string }>
      sync_details: { git_synced: boolean }
      message_delivery: { delivered: number }
    }
    const op = async (body: unknown) => (await call(genesis, 'POST', '/ops', body)).body as Report
    const status = await op({ operation: 'status', target_node: 'all' })
    t.equal(status.validation_status, 'success', 'status')
    t.same(Object.values(status.nodes_status).map((n) => n.status), ['online', 'online', 'online'])
    t.equal((await op({ operation: 'health', target_node: 'follower' })).validation_status, 'success', 'health')
    const head = git.pushCommit('release 2')
    const synced = await op({ operation: 'sync', sync_type: 'git', target_node: 'all', force: true })
    t.equal(synced.sync_details.git_synced, true, 'sync git')
    for (const name of names) t.match(git.head(clones[name]!), head, `${name} is at the new commit`)
    t.equal((await op({ operation: 'message', target_node: 'all', message: 'hello hosts' })).message_delivery.delivered, 2, 'message')
    t.equal((await op({ operation: 'coordinate', action: 'mark', target_node: 'all' })).validation_status, 'success', 'coordinate')
    t.same(readFileSync(marker, 'utf8').trim().split('\n').sort(), ['follower', 'genesis', 'node3'])
  })

  t.test('a task submitted on one host is taken by an agent on another and seen done on the third', async (t) => {
    const reg = await call(follower, 'POST', '/agents/register', { agent_id: 'host-worker', agent_type: 'worker', capabilities: [], services: [], endpoints: {}, metadata: {} })
    t.equal(reg.status, 200)
    const submitted = await call(genesis, 'POST', '/tasks/submit', { task_data: { job: 'across' }, priority: 'high' })
    const id = String(submitted.body.task_id)
    const next = await fetch(`${follower.url}/agents/host-worker/tasks/next?wait_ms=5000`, { headers: auth })
    const task = (await next.json() as { task?: { task_id: string } }).task
    t.equal(task?.task_id, id, 'the agent on the follower got it')
    t.equal((await call(follower, 'POST', `/tasks/${id}/complete`, { agent_id: 'host-worker', result: { ok: 1 } })).status, 200)
    t.match((await call(node3, 'GET', `/tasks/${id}`)).body.task, { state: 'completed', result: { ok: 1 } }, 'node3 sees it completed')
  })

  t.test('an intruder without the key gets no connection, no RPC, no message, no gossip', async (t) => {
    const got = await runIntruder(net, 4, { target: `/ip4/${net.nodes[1]!.meshIp}/tcp/7070`, peerId: ids[1]!.peerId, listen: `/ip4/${net.nodes[4]!.meshIp}/tcp/7070` })
    t.match(got.dial, /^failed/, 'the handshake fails without the key')
    t.same([got.rpcReplies, got.messageReplies, got.gossipReceived, got.connectionsHeld], [[], [], 0, 0])
    t.equal(Object.keys((await view(follower)).nodes_status).length, 3)
  })

  t.test('an intruder with the key but a stolen name is refused and changes nothing', async (t) => {
    const before = (await view(follower)).refusals.name_taken ?? 0
    const got = await runIntruder(net, 4, { target: `/ip4/${net.nodes[1]!.meshIp}/tcp/7070`, peerId: ids[1]!.peerId, psk, claim: 'genesis', listen: `/ip4/${net.nodes[4]!.meshIp}/tcp/7071` })
    t.equal(got.dial, 'ok', 'with the key it can connect')
    t.same(got.rpcReplies, [], 'but gets no RPC answer')
    t.same(got.messageReplies, [], 'and no message ack')
    t.equal(got.gossipReceived, 0, 'and no gossip')
    t.equal(got.connectionsHeld, 0, 'and is disconnected')
    const after = await view(follower)
    t.ok((after.refusals.name_taken ?? 0) > before, 'the stolen name is counted')
    t.equal(after.nodes_status.genesis?.peer_id, ids[0]!.peerId, 'genesis is still bound to its own id')
    t.equal(after.nodes_status.genesis?.status, 'online')
    t.equal((await call(follower, 'GET', '/messages/inbox')).body.count, 1, 'only the real genesis\'s message is in the inbox')
  })
}

/** Runs test/fixtures/intruder.ts as its own process inside namespace i and returns what it printed. */
async function runIntruder(net: TestNetwork, i: number, spec: Record<string, unknown>): Promise<Record<string, unknown>> {
  const script = fileURLToPath(new URL('../fixtures/intruder.ts', import.meta.url))
  const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'))
  const { stdout } = await promisify(execFile)('ip', ['netns', 'exec', net.nodes[i]!.ns, process.execPath, ...loader, script, JSON.stringify(spec)], { timeout: 60_000 })
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>
}

/** A password-protected redis-server with AOF on, in namespace i on its mesh address; stopped by its pid. */
type NetnsRedis = { password: string, stop(): Promise<void> }
async function startNetnsRedis(net: TestNetwork, i: number, scratch: string): Promise<NetnsRedis> {
  const dir = mkdtempSync(join(scratch, 'redis-'))
  const password = 'redis-secret-4dd7'
  const child: ChildProcess = spawn('ip', [
    'netns', 'exec', net.nodes[i]!.ns, 'redis-server', '--port', '6379', '--bind', net.nodes[i]!.meshIp, '--requirepass', password,
    '--appendonly', 'yes', '--dir', dir, '--save', '',
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString()
  })
  await waitFor('redis-server in its namespace', () => {
    if (child.exitCode !== null) throw new GiveUp(`redis-server exited: ${out}`)
    return /ready to accept connections/i.test(out)
  }, { timeoutMs: 10_000 })
  return {
    password,
    stop: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    },
  }
}
