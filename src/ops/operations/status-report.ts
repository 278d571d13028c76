import type { NodeView } from '../../p2p/index.js'
import type { NodeStatusLine, OpIssue, OpReport } from '../engine/op-types.js'
import type { LiveHealth, LiveStatus } from '../node-actions/contract.js'
import { type Answers, buildReport, lineFromView, unansweredIssues, verifiedLine } from './report.js'

/** Everything a verified status or health check found: the report is a function of this. */
export interface StatusFindings {
  operation: 'status' | 'health'
  target: string
  targets: string[]
  /** node.status answers, or node.health answers for health. */
  answers: Answers<LiveStatus | LiveHealth>
  /** What the SSH fallback found about targets that did not answer. */
  ssh: ReadonlyMap<string, OpIssue>
  /** This node's clock when the answers were in (clock skew). */
  now: number
}

const isHealth = (s: LiveStatus | LiveHealth): s is LiveHealth => 'redis' in s

/**
 * The status or health report. A node is online only when it answered with
 * no issue; an issue found by comparing nodes (registry, clock) makes the
 * node degraded too, so the table, the counts in the summary and the
 * validation come from the same findings.
 */
export function statusReport(f: StatusFindings): OpReport {
  const deep = f.operation === 'health'
  const issues: OpIssue[] = []
  const healths: LiveHealth[] = []
  for (const t of f.targets) {
    const r = f.answers.get(t)
    if (r?.ok !== true) {
      issues.push(...unansweredIssues([t], f.answers, 'verify'))
      const ssh = f.ssh.get(t)
      if (ssh !== undefined) issues.push(ssh)
      continue
    }
    if (r.value.chain_error !== null) {
      issues.push({ node: t, step: 'chain', error: r.value.chain_error, suggestion: `check the chain service on ${t} (systemctl status aitbc-blockchain-node)` })
    }
    if (deep && isHealth(r.value)) {
      healths.push(r.value)
      for (const p of r.value.problems) issues.push({ node: t, step: 'health', error: p, suggestion: suggestionFor(p, t) })
    }
  }
  issues.push(...crossChecks(healths, f.now))
  const troubled = new Set(issues.map((i) => i.node))
  const nodes: Record<string, NodeStatusLine> = Object.fromEntries(f.targets.map((t) =>
    [t, verifiedLine(f.answers.get(t), troubled.has(t) ? ['see issues'] : [])]))
  const lines = Object.values(nodes)
  const online = lines.filter((l) => l.status === 'online').length
  const degraded = lines.filter((l) => l.status === 'degraded').length
  const silent = lines.length - online - degraded
  const recommendations: string[] = []
  const heights = lines.filter((l) => l.status !== 'offline' && l.block_height !== null).map((l) => l.block_height!)
  if (heights.length > 1 && Math.max(...heights) !== Math.min(...heights)) {
    recommendations.push(`block heights differ among the nodes that answered (${Math.min(...heights)}-${Math.max(...heights)}): run sync --type blockchain`)
  }
  if (issues.length === 0) recommendations.push('All nodes answered; P2P mesh operating normally')
  return buildReport({
    operation: f.operation, target: f.target, targets: f.targets, nodes, issues,
    confidence: (online + degraded) / Math.max(1, f.targets.length),
    recommendations,
    summary: `${online} of ${f.targets.length} nodes ${deep ? 'healthy' : 'online'}${degraded > 0 ? `, ${degraded} degraded` : ''}${silent > 0 ? `, ${silent} did not answer` : ''}`,
    ...(deep ? { details: { checks: Object.fromEntries(healths.map((h) => [h.node, healthChecks(h, f.now)])) } } : {}),
  })
}

/** status or health with verify=false: the membership view alone, said to be so, with a lower confidence. */
export function gossipReport(operation: 'status' | 'health', target: string, targets: string[], rows: ReadonlyMap<string, NodeView>, suspectAfterMs: number): OpReport {
  const nodes: Record<string, NodeStatusLine> = Object.fromEntries(targets.map((t) => [t, lineFromView(rows.get(t))]))
  const issues: OpIssue[] = []
  const fresh = targets.filter((t) => {
    const age = rows.get(t)?.last_seen_ms
    return age !== null && age !== undefined && age < suspectAfterMs
  })
  for (const t of targets) {
    if (!fresh.includes(t)) issues.push({ node: t, step: 'membership', error: rows.get(t)?.reason ?? 'not heard', suggestion: `run with verify to check ${t} live` })
    else if (nodes[t]!.status !== 'online') issues.push({ node: t, step: 'membership', error: rows.get(t)?.reason ?? `${t} says it is ${nodes[t]!.status}`, suggestion: `run with verify to see why (aitbc-node health --target ${t})` })
  }
  const online = targets.filter((t) => fresh.includes(t) && nodes[t]!.status === 'online').length
  return buildReport({
    operation, target, targets, nodes, issues,
    confidence: (fresh.length / Math.max(1, targets.length)) * 0.8,
    recommendations: ['verify=false: states come from status gossip only'],
    summary: `${online} of ${targets.length} nodes heard recently and online (gossip only, not verified live)`,
  })
}

/** The deep checks of one node, as the health report shows them. */
function healthChecks(h: LiveHealth, now: number): Record<string, unknown> {
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
    clock_skew_ms: Math.abs(h.time - now),
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
function crossChecks(healths: LiveHealth[], now: number): OpIssue[] {
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
  for (const h of healths) {
    const skew = Math.abs(h.time - now)
    if (skew > 1000) {
      issues.push({ node: h.node, step: 'clock', error: `clock differs by ${skew} ms`, suggestion: `enable NTP on ${h.node} (timedatectl set-ntp true)` })
    }
  }
  return issues
}
