import t from 'tap'
import { agentRows } from '../../../src/cli/commands/agents.js'
import { messageSummary } from '../../../src/cli/commands/messages.js'
import { nodesTable } from '../../../src/cli/commands/nodes.js'
import { statsText } from '../../../src/cli/commands/tasks.js'
import { healthChecksText } from '../../../src/cli/health-checks-text.js'
import { table } from '../../../src/cli/table.js'
import type { NodeView } from '../../../src/p2p/index.js'

// What the operator reads, rendered from API answers shaped as the daemon sends them.

t.test('a table aligns its columns and trims trailing blanks', async (t) => {
  t.equal(table(['A', 'LONG HEADER'], [['wide cell', 'x'], ['b', '']]), 'A          LONG HEADER\nwide cell  x\nb')
})

const node = (over: Partial<NodeView>): NodeView => ({
  name: 'n', status: 'online', block_height: null, mempool_size: null, p2p_connections: null, links: null,
  service_uptime: null, last_sync: null, peer_id: null, identity: null, identity_conflict: null, address: null,
  version: null, git_head: null, coordinator_url: null, last_seen_ms: null, reason: null, registry_mismatch: null,
  self: false, ...over,
})

t.test('nodes: this daemon marked *, ages, a short peer id, a registry mismatch before the reason', async (t) => {
  const lines = nodesTable([
    node({ name: 'genesis', self: true, block_height: 120, mempool_size: 3, p2p_connections: 2, service_uptime: '5m', last_seen_ms: 0, version: '0.1.0', peer_id: '12D3KooWAbCdEfGhIjKlMnOp' }),
    node({ name: 'follower', status: 'offline', last_seen_ms: 4200, reason: 'not heard for 4.2 s' }),
    node({ name: 'aitbc2', status: 'degraded', registry_mismatch: 'another Redis', reason: 'ignored' }),
  ]).split('\n')
  t.match(lines[0], /^NODE\s+STATUS\s+HEIGHT\s+MEMPOOL\s+PEERS\s+UPTIME\s+LAST SEEN\s+VERSION\s+PEER ID\s+NOTE$/)
  t.match(lines[1], /^genesis \*\s+online\s+120\s+3\s+2\s+5m\s+0ms\s+0\.1\.0\s+12D3KooW\.\.KlMnOp\s+-$/)
  t.match(lines[2], /^follower\s+offline\s+-\s+-\s+-\s+-\s+4\.2s\s+-\s+-\s+not heard for 4\.2 s$/)
  t.match(lines[3], /^aitbc2\s+degraded(\s+-){4}\s+never\s+-\s+-\s+REGISTRY MISMATCH: another Redis$/)
})

t.test('a message: the counts, then one receipt per target', async (t) => {
  const text = messageSummary({
    message_id: 'm1', to: 'all',
    message_delivery: { sent: 2, delivered: 1, failed: 1, queued: 0 },
    receipts: { follower: { state: 'delivered', attempts: 1, reason: null }, aitbc2: { state: 'failed', attempts: 3, reason: 'unreachable' } },
  }).split('\n')
  t.equal(text[0], 'message m1 to all: sent 2, delivered 1, failed 1, queued 0')
  t.match(text[1], /^TARGET\s+RECEIPT\s+ATTEMPTS\s+REASON$/)
  t.match(text[2], /^follower\s+delivered\s+1\s+-$/)
  t.match(text[3], /^aitbc2\s+failed\s+3\s+unreachable$/)
})

t.test('agents: health with two decimals, the circuit as state and failures in a row', async (t) => {
  const base = { agent_type: 'worker', status: 'active', capabilities: ['gpu', 'cpu'], last_heartbeat: '2026-01-01T00:00:00Z' }
  const lines = agentRows([
    { ...base, agent_id: 'a', health_score: 1, circuit: { state: 'closed', failures: 0 } },
    { ...base, agent_id: 'b', health_score: 0.456, circuit: { state: 'open', failures: 3 } },
    { ...base, agent_id: 'c', health_score: 0.5 },
  ]).split('\n')
  t.match(lines[0], /^AGENT\s+TYPE\s+STATUS\s+HEALTH\s+CIRCUIT\s+CAPABILITIES\s+LAST HEARTBEAT$/)
  t.match(lines[1], /^a\s+worker\s+active\s+1\.00\s+closed\s+gpu,cpu\s+2026-01-01T00:00:00Z$/)
  t.match(lines[2], /^b\s+worker\s+active\s+0\.46\s+open \(3 failed\)\s+gpu,cpu/)
  t.match(lines[3], /^c\s+worker\s+active\s+0\.50\s+-\s+gpu,cpu/)
})

t.test('task statistics: counters, the average in seconds, the strategy and a queue table', async (t) => {
  const lines = statsText({
    tasks_submitted: 10, tasks_distributed: 9, tasks_completed: 7, tasks_failed: 1, tasks_dead: 1,
    tasks_retried: 2, tasks_in_flight: 1,
    avg_distribution_time: 0.01234,
    load_balancer_stats: { strategy: 'round_robin', active_agents: 2, total_assignments: 9, avg_agent_load: 0.5 },
    queue_sizes: { urgent: 0, normal: 3 },
  }).split('\n')
  t.equal(lines[0], 'submitted 10  distributed 9  completed 7  failed 1  dead 1  retried 2  in flight 1')
  t.equal(lines[1], 'avg distribution time 0.012 s')
  t.equal(lines[2], 'strategy round_robin  active agents 2  assignments 9  avg agent load 0.50')
  t.match(lines.slice(3).join('\n'), /^QUEUE\s+TASKS\nurgent\s+0\nnormal\s+3$/)
})

t.test('deep health checks: a row per node, FAIL with the detail, - for what a node did not report', async (t) => {
  const text = healthChecksText({
    solo: {
      redis: { ok: true, error: null }, aof: { ok: false, enabled: false }, eviction: { ok: true, policy: 'noeviction' },
      disk: { ok: true, free_bytes: 12.34e9, path: '/' }, chain: { ok: true, height: 42, error: null }, clock_skew_ms: 1500,
    },
    other: { redis: { ok: false, error: null }, chain: { ok: false, height: null, error: null } },
  }).split('\n')
  t.equal(text[0], 'deep checks:')
  t.match(text[1], /^NODE\s+REDIS\s+AOF\s+EVICTION\s+DISK\s+CHAIN\s+CLOCK SKEW$/)
  t.match(text[2], /^solo\s+ok\s+FAIL \(off\)\s+ok \(noeviction\)\s+ok \(12\.3 GB free\)\s+ok \(height 42\)\s+FAIL \(1500 ms\)$/)
  t.match(text[3], /^other\s+FAIL \(unreachable\)\s+-\s+-\s+-\s+FAIL \(no answer\)\s+-$/)
  t.equal(healthChecksText({}), 'deep checks: no node answered')
})
