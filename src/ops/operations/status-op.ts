import { formatUptime } from '../../p2p/index.js'
import type { OpContext, OpRunner } from '../engine/ops-engine.js'
import type { NodeStatusLine, OpIssue, OpRequest } from '../engine/op-types.js'
import { type ClusterAccess, type LiveHealth, type LiveStatus, resolveTargets } from './cluster-access.js'
import { buildReport, lineFromView, unreachableIssue } from './report.js'

/** Asks every target for its live status (or health), itself included, within the deadline. */
async function liveCheck<T extends LiveStatus>(
  access: ClusterAccess,
  ctx: OpContext,
  targets: string[],
  method: 'node.status' | 'node.health',
) {
  return ctx.eachTarget(targets, async (node, signal) => {
    ctx.progress(node, 'verify', 'asking the node')
    const answer = await access.invoke(node, method, null, { signal, deadlineAt: ctx.deadlineAt, opId: ctx.opId })
    ctx.progress(node, 'verify', 'answered')
    return answer as T
  })
}

function liveLine(view: NodeStatusLine, live: LiveStatus, problems: string[]): NodeStatusLine {
  return {
    status: problems.length > 0 || live.chain_error !== null ? 'degraded' : 'online',
    block_height: live.chain?.height ?? null,
    mempool_size: live.chain?.mempool_size ?? null,
    p2p_connections: live.p2p_connections,
    service_uptime: formatUptime(live.uptime_s),
    last_sync: live.last_sync ?? view.last_sync,
  }
}

/** `status` and `health`: the membership view, plus (verify) a live check of every target. */
export function statusRunner(access: ClusterAccess, deep: boolean): OpRunner {
  return async (req: OpRequest, ctx) => {
    const targets = resolveTargets(access, req.target_node)
    const rows = new Map(access.view().map((r) => [r.name, r]))
    const nodes: Record<string, NodeStatusLine> = {}
    const issues: OpIssue[] = []
    const succeeded: string[] = []
    const recommendations: string[] = []
    for (const t of targets) nodes[t] = lineFromView(rows.get(t))
    if (!req.verify) {
      const fresh = targets.filter((t) => {
        const age = rows.get(t)?.last_seen_ms
        return age !== null && age !== undefined && age < access.suspectAfterMs
      })
      succeeded.push(...fresh)
      for (const t of targets.filter((x) => !fresh.includes(x))) {
        issues.push({ node: t, step: 'membership', error: rows.get(t)?.reason ?? 'not heard', suggestion: `run with verify to check ${t} live` })
      }
      return buildReport({
        operation: req.operation, target: req.target_node, targets, nodes, issues, succeeded,
        confidence: (fresh.length / targets.length) * 0.8,
        recommendations: ['verify=false: states come from status gossip only'],
        summary: `${fresh.length} of ${targets.length} nodes heard recently (gossip only, not verified live)`,
      })
    }
    const results = await liveCheck<LiveHealth>(access, ctx, targets, deep ? 'node.health' : 'node.status')
    const healths: LiveHealth[] = []
    for (const t of targets) {
      const r = results.get(t)!
      if (!r.ok) {
        nodes[t] = { ...nodes[t]!, status: 'offline' }
        issues.push(unreachableIssue(t, 'verify', r.error, r.timedOut))
        const fallback = await sshFallback(access, t, req.force, ctx.signal)
        if (fallback !== null) issues.push(fallback)
        continue
      }
      const problems = deep ? r.value.problems : []
      nodes[t] = liveLine(nodes[t]!, r.value, problems)
      if (r.value.chain_error !== null) {
        issues.push({ node: t, step: 'chain', error: r.value.chain_error, suggestion: `check the chain service on ${t} (systemctl status aitbc-blockchain-node)` })
      }
      for (const p of problems) issues.push({ node: t, step: 'health', error: p, suggestion: suggestionFor(p, t) })
      if (deep) healths.push(r.value)
      if (r.value.chain_error === null && problems.length === 0) succeeded.push(t)
    }
    if (deep) issues.push(...crossChecks(healths))
    const heights = targets.map((t) => nodes[t]!.block_height).filter((h): h is number => h !== null)
    if (heights.length > 1 && Math.max(...heights) !== Math.min(...heights)) {
      recommendations.push(`block heights differ (${Math.min(...heights)}-${Math.max(...heights)}): run sync --type blockchain`)
    }
    if (issues.length === 0) recommendations.push('All nodes answered; P2P mesh operating normally')
    const answered = [...results.values()].filter((r) => r.ok).length
    return buildReport({
      operation: req.operation, target: req.target_node, targets, nodes, issues, succeeded,
      confidence: answered / targets.length,
      recommendations,
      summary: `${succeeded.length} of ${targets.length} nodes ${deep ? 'healthy' : 'online'}${answered < targets.length ? `, ${targets.length - answered} did not answer` : ''}`,
      ...(deep ? { details: { checks: Object.fromEntries(healths.map((h) => [h.node, healthChecks(h)])) } } : {}),
    })
  }
}

/** Seed 000: reach a silent node over SSH (validated first), see its services, start the daemon only with force. */
async function sshFallback(access: ClusterAccess, node: string, force: boolean, signal: AbortSignal): Promise<OpIssue | null> {
  if (access.sshCheck === undefined) return null
  try {
    const found = await access.sshCheck(node, force, signal)
    if (found === null) return null
    return {
      node,
      step: 'ssh',
      error: `over SSH: aitbc-node is ${found.daemon}, the chain service is ${found.chain}${found.started ? '; aitbc-node was started (force)' : ''}`,
      suggestion: found.started
        ? `check again in a few seconds: aitbc-node status --target ${node}`
        : found.daemon === 'active' ? `aitbc-node runs on ${node} but does not answer: check TCP 7070 and its logs` : `start it: aitbc-node status --target ${node} --force, or systemctl start aitbc-node on ${node}`,
    }
  } catch (err) {
    return { node, step: 'ssh', error: (err as Error).message, suggestion: `check the SSH settings of ${node} (p2p.peers[].ssh, ssh.knownHostsFile)` }
  }
}

/** The deep checks of one node, as the health report shows them. */
function healthChecks(h: LiveHealth): Record<string, unknown> {
  return {
    redis: { ok: h.redis.ok, error: h.redis.error },
    aof: { ok: h.redis.aof_enabled === true, enabled: h.redis.aof_enabled },
    eviction: {
      ok: h.redis.maxmemory_policy === null || h.redis.maxmemory_policy === 'noeviction',
      policy: h.redis.maxmemory_policy,
    },
    registry: { cluster_id: h.registry_cluster_id },
    disk: h.disk === null
      ? null
      : { ok: h.disk.free_bytes >= 0.05 * h.disk.total_bytes, free_bytes: h.disk.free_bytes, path: h.disk.path },
    chain: { ok: h.chain_error === null, height: h.chain?.height ?? null, error: h.chain_error },
    clock_skew_ms: Math.abs(h.time - Date.now()),
    problems: h.problems,
  }
}

function suggestionFor(problem: string, node: string): string {
  // Before the catch-all Redis rule: these problems name Redis too, and their fix is a setting.
  if (/AOF/.test(problem)) return 'turn AOF on in the shared Redis: appendonly yes in redis.conf (at once: redis-cli CONFIG SET appendonly yes)'
  if (/eviction|maxmemory/i.test(problem)) return 'set maxmemory-policy noeviction on the shared Redis (redis.conf, or redis-cli CONFIG SET maxmemory-policy noeviction)'
  if (/Redis/i.test(problem)) return `check REDIS_URL on ${node} and that the shared Redis runs (redis-cli ping)`
  if (/disk/i.test(problem)) return `free space in ${node}'s data directory`
  return `look at journalctl -u aitbc-node on ${node}`
}

/** Checks between nodes: the same registry everywhere, clocks within a second. */
function crossChecks(healths: LiveHealth[]): OpIssue[] {
  const issues: OpIssue[] = []
  const ids = new Set(healths.map((h) => h.registry_cluster_id).filter((x): x is string => x !== null))
  if (ids.size > 1) {
    const first = healths[0]!
    for (const h of healths.filter((x) => x.registry_cluster_id !== first.registry_cluster_id)) {
      issues.push({
        node: h.node, step: 'registry', error: `${h.node} uses a different Redis registry than ${first.node}`,
        suggestion: `point REDIS_URL on ${h.node} at the shared Redis`,
      })
    }
  }
  const now = Date.now()
  for (const h of healths) {
    const skew = Math.abs(h.time - now)
    if (skew > 1000) {
      issues.push({ node: h.node, step: 'clock', error: `clock differs by ${skew} ms`, suggestion: `enable NTP on ${h.node} (timedatectl set-ntp true)` })
    }
  }
  return issues
}
