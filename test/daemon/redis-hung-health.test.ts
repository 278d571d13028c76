import t from 'tap'
import { startCoordinator } from '../fixtures/coordinator.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// Issue 28: with Redis hung (SIGSTOP), /health said healthy for 3-4 s while every call already
// answered 503. A hung Redis keeps its connections open, so nothing but an unanswered command says so.
const redis = await startRedis()
t.teardown(() => redis.stop())
// The daemon's Redis health monitor and /health, in-process: what is hung here is Redis, not the daemon.
const d = await startCoordinator({ redisUrl: redis.url, engine: {} })
t.teardown(() => d.close())

const health = async (): Promise<number> => {
  const res = await fetch(`${d.url}/health`, { signal: AbortSignal.timeout(2000) })
  await res.body?.cancel()
  return res.status
}

t.test('/health turns 503 within 1 s of a hung Redis, and 200 again once it answers', async (t) => {
  await waitFor('healthy', async () => (await health()) === 200, { timeoutMs: 10_000 })
  const took: number[] = []
  for (let round = 0; round < 3; round++) {
    const pid = redis.pid()!
    process.kill(pid, 'SIGSTOP')
    let resumed = false
    const resume = () => {
      if (!resumed) process.kill(pid, 'SIGCONT')
      resumed = true
    }
    t.teardown(resume)
    const stoppedAt = performance.now()
    await waitFor('/health answers 503', async () => (await health()) === 503, { timeoutMs: 15_000, intervalMs: 20 })
    took.push(Math.round(performance.now() - stoppedAt))
    resume()
    await waitFor('/health answers 200 again', async () => (await health()) === 200, { timeoutMs: 10_000, intervalMs: 50 })
  }
  t.comment(`503 after ${took.join(', ')} ms of a hung Redis`)
  t.ok(took.every((ms) => ms < 1000), `every time within 1 s (${took.join(', ')} ms)`)
  const body = await (await fetch(`${d.url}/health`)).json() as { status: string, checks: { redis: { ok: boolean } } }
  t.match(body, { status: 'healthy', checks: { redis: { ok: true } } }, 'healthy again, Redis checks ok')
})
