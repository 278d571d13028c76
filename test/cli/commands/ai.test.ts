import t from 'tap'
import { startCoordinator } from '../../fixtures/coordinator.js'
import { startRedis } from '../../fixtures/redis-server.js'
import { cliRun } from '../run-cli.js'

const redis = await startRedis()
const api = await startCoordinator({ redisUrl: redis.url })
t.teardown(async () => {
  await api.close()
  await redis.stop()
})

t.test('ai status: the guide\'s CLI health check', async (t) => {
  const res = await cliRun(['--url', api.url, 'ai', 'status'])
  t.equal(res.code, 0)
  t.match(res.stdout, /: (healthy|degraded) \(version /)
  t.match(res.stdout, /redis: ok/)
})

t.test('ai status exits 1 when the daemon answers unhealthy', async (t) => {
  await redis.stop()
  const res = await cliRun(['--url', api.url, 'ai', 'status'])
  t.equal(res.code, 1, res.stdout)
})
