import t from 'tap'
import { api } from '../fixtures/api.js'
import { startChainStandIn } from '../fixtures/chain-rpc.js'
import { meshTestBed } from '../fixtures/mesh.js'
import { type MeshNode, type MeshNodeOptions, nodesOf, startMeshNode, waitForState } from '../fixtures/mesh-node.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// What a node reports about its chain and its Redis registry, and how the others show it: in-process
// mesh nodes built with the daemon's wiring, on real libp2p, real Redis and chain RPC stand-ins.
const { redis, dir } = await meshTestBed(t, 'chain')

/** Starts one node per name, every other one its configured peer. */
async function startNodes(
  t: { teardown(fn: () => unknown): void },
  prefix: string,
  names: string[],
  extra: (name: string) => Partial<MeshNodeOptions> = () => ({}),
): Promise<MeshNode[]> {
  const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const)))
  const nodes: MeshNode[] = []
  for (const name of names) {
    const node = await startMeshNode({
      name, dir: `${dir}/${prefix}`, port: ports[name]!, redisUrl: redis.url, prefix,
      peers: names.filter((p) => p !== name).map((p) => ({ name: p, address: `/ip4/127.0.0.1/tcp/${ports[p]}` })),
      ...extra(name),
    })
    t.teardown(() => node.stop())
    nodes.push(node)
  }
  return nodes
}

t.test('chain heights and mempool sizes reach /nodes; a failing chain RPC degrades the node with the reason', async (t) => {
  const genesisChain = await startChainStandIn({ height: 15234, hash: '0xfeed', mempool: 15 })
  const followerChain = await startChainStandIn({ height: 0, mempool: 0 })
  t.teardown(() => Promise.all([genesisChain.close(), followerChain.close()]))
  const [genesis, follower] = await startNodes(t, 'chain:', ['genesis', 'follower'],
    (name) => ({ chainRpcUrl: name === 'genesis' ? genesisChain.url : followerChain.url })) as [MeshNode, MeshNode]

  const row = await waitFor('genesis height in the follower view', async () => {
    const r = (await nodesOf(follower)).genesis
    return r?.block_height === 15234 ? r : undefined
  })
  t.match(row, { status: 'online', block_height: 15234, mempool_size: 15, last_sync: Number })
  const followerRow = await waitFor('follower chain in the genesis view', async () => {
    const r = (await nodesOf(genesis)).follower
    return r?.status === 'online' ? r : undefined
  })
  t.match(followerRow, { block_height: 0, mempool_size: 0 }, 'a chain with no blocks yet is height 0')

  genesisChain.state.height = 15240
  await waitFor('new height gossiped', async () => (await nodesOf(follower)).genesis?.block_height === 15240)

  genesisChain.state.failing = true
  const degraded = await waitForState(follower, 'genesis', 'degraded')
  t.match(degraded.reason, /chain RPC http:\/\/127\.0\.0\.1:\d+\/rpc\/(head|mempool) answered HTTP 500/)
  t.equal(degraded.block_height, 15240, 'the last good height is kept')
  const health = await api(genesis.url, 'GET', '/health')
  t.equal(health.status, 200, 'Redis is fine, so the API stays in service')
  t.match(health.body, { status: 'degraded', checks: { chain: { ok: false, error: /HTTP 500/ } } })
  t.ok(genesis.logs.some((l) => l.msg === 'chain RPC failing; node reports itself degraded'), 'logged')

  genesisChain.state.failing = false
  await waitForState(follower, 'genesis', 'online')
  t.equal((await api(genesis.url, 'GET', '/health')).body.status, 'healthy')
})

t.test('a chain RPC that does not answer at all is reported as unreachable', async (t) => {
  const deadPort = await freePort()
  const nodes = await startNodes(t, 'nochain:', ['genesis'], () => ({ chainRpcUrl: `http://127.0.0.1:${deadPort}` }))
  const self = await waitFor('self degraded', async () => {
    const r = (await nodesOf(nodes[0]!)).genesis
    return r?.status === 'degraded' ? r : undefined
  })
  t.match(self.reason, new RegExp(`chain RPC http://127\\.0\\.0\\.1:${deadPort}/rpc/\\w+ unreachable \\(ECONNREFUSED\\)`))
  t.equal(self.block_height, null)
})

t.test('a node on a different Redis registry is flagged by name in /nodes, /health and the logs', async (t) => {
  const other = await startRedis()
  t.teardown(() => other.stop())
  const [genesis, follower] = await startNodes(t, 'reg:', ['genesis', 'follower'],
    (name) => (name === 'follower' ? { redisUrl: other.url } : {})) as [MeshNode, MeshNode]
  await waitForState(genesis, 'follower', 'online')
  const row = await waitFor('mismatch flagged', async () => {
    const r = (await nodesOf(genesis)).follower
    return r?.registry_mismatch ? r : undefined
  })
  t.match(row.registry_mismatch, /^follower uses a different Redis registry than genesis \(127\.0\.0\.1:\d+ db 0 prefix "reg:"/)
  t.notMatch(String(row.registry_mismatch), /password/)
  const nodesBody = (await api(genesis.url, 'GET', '/nodes')).body
  t.match(nodesBody.registry_mismatches, [/follower uses a different Redis registry than genesis/])
  const health = await api(genesis.url, 'GET', '/health')
  t.match(health.body, { status: 'degraded', checks: { mesh: { ok: false } }, warnings: [/follower uses a different Redis registry than genesis/] })
  t.ok(genesis.logs.some((l) => /follower uses a different Redis registry than genesis/.test(String(l.msg)) && l.level === 50))
  const seenFromFollower = await waitFor('mismatch flagged on the follower too', async () => (await nodesOf(follower)).genesis?.registry_mismatch)
  t.match(seenFromFollower, /genesis uses a different Redis registry than follower/)
})

t.test('nodes on one Redis reached by different URLs are not flagged', async (t) => {
  const [genesis] = await startNodes(t, 'same:', ['genesis', 'follower'],
    (name) => (name === 'follower' ? { redisUrl: redis.url.replace('127.0.0.1', 'localhost') } : {})) as [MeshNode, MeshNode]
  await waitForState(genesis, 'follower', 'online')
  await waitFor('a few statuses heard', async () => Number((await nodesOf(genesis)).follower?.last_seen_ms ?? 1e9) < 300)
  t.equal((await nodesOf(genesis)).follower?.registry_mismatch, null)
  t.equal((await api(genesis.url, 'GET', '/health')).body.status, 'healthy')
})
