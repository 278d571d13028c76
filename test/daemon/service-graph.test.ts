import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/daemon/config/load.js'
import { buildDaemon } from '../../src/daemon/daemon.js'
import { createLogRoot } from '../../src/daemon/logger.js'
import { startChainStandIn } from '../fixtures/chain-rpc.js'
import { waitFor } from '../fixtures/poll.js'

// Timers, sockets, servers and child processes: what a service started twice would leave behind.
const WATCHED = new Set(['Timeout', 'TCPServerWrap', 'TCPSocketWrap', 'PipeWrap', 'PipeServerWrap', 'ProcessWrap'])

function resources(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const r of process.getActiveResourcesInfo()) if (WATCHED.has(r)) counts[r] = (counts[r] ?? 0) + 1
  return counts
}

function exceeds(now: Record<string, number>, base: Record<string, number>): string[] {
  return Object.entries(now).filter(([k, n]) => n > (base[k] ?? 0)).map(([k, n]) => `${k} ${base[k] ?? 0} -> ${n}`)
}

t.test('every service the root builds: stop before start, a second start and a second stop are harmless', async (t) => {
  const chain = await startChainStandIn()
  t.teardown(() => chain.close())
  const dir = mkdtempSync(join(tmpdir(), 'aitbc-graph-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // Embedded Redis and a chain RPC, so that every service the root can build is in the graph.
  const { config } = loadConfig({
    env: {},
    flags: {
      name: 'solo', dataDir: dir, host: '127.0.0.1', port: '0',
      set: ['p2p.listen="/ip4/127.0.0.1/tcp/0"', `chain.rpcUrl="${chain.url}"`],
    },
  })
  const base = resources()
  const graph = await buildDaemon(config, createLogRoot('silent'))
  const names = graph.services.services.map((s) => s.name)
  t.same(names, [
    'embedded redis', 'redis client', 'redis health', 'registry upkeep', 'agent sweeper', 'task wake-ups',
    'task distributor', 'registry cluster id', 'chain monitor', 'p2p mesh', 'leftover action groups',
    'operation events', 'operations', 'coordinator http',
  ], 'the services of the graph, in start order')

  // The mesh starts its own parts once; each of them must bear the same as the services.
  const { mesh } = graph
  const meshParts = {
    'name bindings': mesh.bindings, 'rpc': mesh.rpc, 'messenger': mesh.messenger, 'status gossip': mesh.gossip, 'liveness prober': mesh.liveness,
  }
  for (const { name, service } of graph.services.services) {
    await t.resolves(async () => service.stop(), `${name}: stop before start`)
  }
  for (const [name, part] of Object.entries(meshParts)) {
    await t.resolves(async () => part.stop(), `mesh ${name}: stop before start`)
  }
  await graph.services.start()
  t.teardown(() => graph.services.stop())
  const url = graph.http.url
  t.ok(url, 'the API listens')
  const redisPid = (graph.services.services[0]!.service as { pid?: number }).pid

  for (const { name, service } of graph.services.services) {
    await t.resolves(async () => service.start(), `${name}: a second start`)
  }
  for (const [name, part] of Object.entries(meshParts)) {
    await t.resolves(async () => part.start(), `mesh ${name}: a second start`)
  }
  t.equal(graph.http.url, url, 'the API still listens where it did')
  t.equal((graph.services.services[0]!.service as { pid?: number }).pid, redisPid, 'one embedded redis-server')
  const health = await waitFor('GET /health answers after the second starts', async () => {
    const res = await fetch(`${url}/health`)
    return res.status === 200 ? (await res.json()) as { checks?: Record<string, { ok: boolean }> } : null
  })
  t.ok(health, 'the daemon still answers')

  await graph.services.stop()
  for (const { name, service } of graph.services.services) {
    await t.resolves(async () => service.stop(), `${name}: a second stop`)
  }
  for (const [name, part] of Object.entries(meshParts)) {
    await t.resolves(async () => part.stop(), `mesh ${name}: a second stop`)
  }
  // A service whose second start made a second timer, server or process still holds it here.
  await t.resolves(waitFor('every timer, socket and process to be gone', () => exceeds(resources(), base).length === 0, {
    timeoutMs: 15_000,
  }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}: ${exceeds(resources(), base).join(', ')}`)
  }), 'nothing left running')
})
