/** A mesh of real daemons for the mesh benchmarks, started and seen online everywhere. */
import { type ClusterNode, startCluster, waitForState } from '../test/fixtures/cluster.js'
import { waitFor } from '../test/fixtures/poll.js'

/** `n` daemons named node0…, default settings, on one Redis under `prefix`; resolves once every node lists every node online. */
export async function startBenchMesh(n: number, redisUrl: string, prefix: string, timeoutMs = 30_000): Promise<ClusterNode[]> {
  const names = Array.from({ length: n }, (_, i) => `node${i}`)
  const cluster = await startCluster({
    names, redisUrl, args: ['--log-level', 'warn', '--set', `redis.prefix="${prefix}"`], nodeOptions: () => ({ waitReady: false }),
  })
  for (const c of cluster) await waitFor(`${c.name} up`, () => fetch(`${c.daemon.url}/health`).then((r) => r.ok, () => false), { timeoutMs })
  for (const viewer of cluster) for (const name of names) await waitForState(viewer.daemon, name, 'online', timeoutMs)
  return cluster
}
