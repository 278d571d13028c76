import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { registerAgent, startPullAgent } from '../fixtures/agents.js'
import { api } from '../fixtures/api.js'
import { startCoordinator } from '../fixtures/coordinator.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// Seed 002's redis-cli runbook, against a live coordinator API and sweeper (no key prefix: the guide's layout).
const redis = await startRedis()
t.teardown(() => redis.stop())
const cli = (...args: string[]): string => execFileSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' }).trim()

const d = await startCoordinator({
  redisUrl: redis.url, prefix: '', engine: { agents: { staleAfterMs: 1500, removeAfterMs: 600000, sweepIntervalMs: 100 } },
})
t.teardown(() => d.close())
const scratch = mkdtempSync(join(tmpdir(), 'aitbc-runbook-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))

t.test('KEYS agent:* lists agent hashes only, so HGETALL works on every key it returns', async (t) => {
  await registerAgent(d.url, 'hermes-agent')
  await registerAgent(d.url, 'worker-1', { capabilities: ['runbook'] })
  const puller = startPullAgent(d.url, 'worker-1')
  t.teardown(() => puller.stop())
  const id = String((await api(d.url, 'POST', '/tasks/submit', { task_data: { x: 1 }, requirements: { capabilities: ['runbook'] } })).body.task_id)
  await waitFor('the task done', async () => ((await api(d.url, 'GET', `/tasks/${id}`)).body.task as { state: string }).state === 'completed')
  const keys = cli('KEYS', 'agent:*').split('\n').sort()
  t.same(keys, ['agent:hermes-agent', 'agent:worker-1'])
  for (const key of keys) t.match(cli('HGETALL', key), /agent_id\n.*\n/s, `HGETALL ${key}`)
  // staleAfterMs is 1.5 s for the cleanup below: a heartbeat keeps hermes-agent active however long the task took.
  await api(d.url, 'POST', '/agents/hermes-agent/heartbeat', {})
  t.match(cli('SMEMBERS', 'agents:active'), /hermes-agent/)
  t.match(cli('HGET', 'agent:worker-1', 'tasks_completed'), '1')
})

t.test('the guide\'s cleanup_stale_agents.sh, run verbatim, leaves a consistent registry', async (t) => {
  await registerAgent(d.url, 'stale-agent')
  await waitFor('stale-agent is stale', () => cli('HGET', 'agent:stale-agent', 'status') === 'stale', { timeoutMs: 15_000 })
  // The script exactly as the guide prints it; redis-cli reaches the test's Redis through a shim on PATH.
  const script = join(scratch, 'cleanup_stale_agents.sh')
  writeFileSync(script, `#!/bin/bash
# cleanup_stale_agents.sh
redis-cli --scan --pattern "agent:*" | while read key; do
status=$(redis-cli HGET "$key" status)
if [ "$status" = "stale" ]; then
agent_id=$(echo "$key" | cut -d: -f2)
redis-cli SREM agents:active "$agent_id"
redis-cli DEL "$key"
echo "Removed stale agent: $agent_id"
fi
done
`)
  chmodSync(script, 0o755)
  const shim = join(scratch, 'redis-cli')
  writeFileSync(shim, `#!/bin/sh\nexec ${execFileSync('sh', ['-c', 'command -v redis-cli'], { encoding: 'utf8' }).trim()} -p ${redis.port} "$@"\n`)
  chmodSync(shim, 0o755)
  const out = execFileSync(script, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `${scratch}:${process.env.PATH}` } })
  t.match(out, /Removed stale agent: stale-agent/)
  t.notMatch(out, /WRONGTYPE/, 'no key it scans is of another type')
  // What the script does not know of (agents:all, agents:heartbeats), the sweep repairs within one interval.
  await waitFor('the sweep finished the cleanup', () => !cli('SMEMBERS', 'agents:all').includes('stale-agent') && cli('ZSCORE', 'agents:heartbeats', 'stale-agent') === '', { timeoutMs: 3000 })
  t.equal((await api(d.url, 'GET', '/agents/stale-agent')).status, 404)
  const listed = (await api(d.url, 'POST', '/agents/discover', {})).body.agents as { agent_id: string }[]
  t.notOk(listed.some((a) => a.agent_id === 'stale-agent'), 'and discover no longer lists it')
})

t.test('the guide\'s advice CONFIG SET maxmemory-policy allkeys-lru is warned about: it would evict registry keys', async (t) => {
  cli('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru')
  t.teardown(() => cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction'))
  // /health answers from a health read in the background: the warning shows within its refresh (2 s).
  const health = await waitFor('/health to name the policy', async () => {
    const body = (await api(d.url, 'GET', '/health')).body as { status: string, warnings: string[] }
    return body.warnings.some((w) => /allkeys-lru/.test(w)) ? body : undefined
  }, { timeoutMs: 15_000 })
  t.match(health.warnings, [/allkeys-lru/], '/health names the policy')
  t.equal((await api(d.url, 'GET', '/health')).status, 200, 'still serving')
})
