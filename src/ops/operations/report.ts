import { formatUptime, type NodeView } from '../../p2p/index.js'
import type { TargetResult } from '../engine/fan-out.js'
import type { NodeStatusLine, Operation, OpIssue, OpReport } from '../engine/op-types.js'
import type { LiveStatus } from '../node-actions/contract.js'

/** What each target answered to one kind of call in this operation (or why it did not). */
export type Answers<T> = ReadonlyMap<string, TargetResult<T>>

/** The nodes_status line of a node from the membership view (gossip, not verified in this operation). */
export function lineFromView(row: NodeView | undefined): NodeStatusLine {
  return {
    status: row?.status ?? 'offline',
    block_height: row?.block_height ?? null,
    mempool_size: row?.mempool_size ?? null,
    p2p_connections: row?.p2p_connections ?? null,
    service_uptime: row?.service_uptime ?? null,
    last_sync: row?.last_sync ?? null,
  }
}

/** The line of a node that did not answer: offline, and no figure claimed for it. */
export const OFFLINE_LINE: NodeStatusLine = Object.freeze({
  status: 'offline', block_height: null, mempool_size: null, p2p_connections: null, service_uptime: null, last_sync: null,
})

/**
 * A node's nodes_status line from what it answered live in this operation.
 * Chain figures are shown only when its chain RPC answered now: a failing
 * RPC leaves the last good reading in the answer, which is not verified.
 */
export function verifiedLine(answer: TargetResult<LiveStatus> | undefined, problems: readonly string[] = []): NodeStatusLine {
  if (answer === undefined || !answer.ok) return { ...OFFLINE_LINE }
  const s = answer.value
  const chainOk = s.chain_error === null
  return {
    status: chainOk && problems.length === 0 ? 'online' : 'degraded',
    block_height: chainOk ? s.chain?.height ?? null : null,
    mempool_size: chainOk ? s.chain?.mempool_size ?? null : null,
    p2p_connections: s.p2p_connections,
    service_uptime: formatUptime(s.uptime_s),
    last_sync: s.last_sync,
  }
}

export interface ReportParts {
  operation: Operation
  target: string
  targets: string[]
  nodes: Record<string, NodeStatusLine>
  issues: OpIssue[]
  /** Share of targets whose state was checked live in this operation (docs/api.md, operations). */
  confidence: number
  recommendations: string[]
  messageDelivery?: OpReport['message_delivery']
  sync?: { result: OpReport['sync_result'], details: OpReport['sync_details'] }
  summary: string
  /** What this operation found per node beyond seed 000's fields (health checks, action output). */
  details?: OpReport['details']
}

const NOTHING_SYNCED = { blockchain_synced: false, mempool_synced: false, configuration_synced: false, git_synced: false }

/** The validation of a set of issues: success with none, failed when every target has one, else partial. */
export function validationOf(targets: readonly string[], issues: readonly OpIssue[]): OpReport['validation_status'] {
  if (issues.length === 0) return 'success'
  const hit = new Set(issues.map((i) => i.node))
  return targets.length > 0 && targets.every((t) => hit.has(t)) ? 'failed' : 'partial'
}

/** What to do about targets that did not answer: bring them back first, since nothing about them is known. */
export function offlineRecommendations(nodes: Record<string, NodeStatusLine>): string[] {
  return Object.entries(nodes).filter(([, l]) => l.status === 'offline').map(([n]) =>
    `bring ${n} back before acting on it: check its host and daemon (aitbc-node status --target ${n} --force starts the daemon over SSH when configured); its state is unknown until it answers`)
}

/**
 * Seed 000's report. validation_status comes from the issues (success with
 * none, failed when every target has one); targets that did not answer get
 * their "bring it back" recommendation here, so no operation can forget it.
 */
export function buildReport(p: ReportParts): OpReport {
  const validation = validationOf(p.targets, p.issues)
  return {
    summary: p.summary,
    operation: p.operation,
    target_node: p.target,
    nodes_status: p.nodes,
    // For operations that sync nothing, sync_result mirrors the validation and sync_details are all false.
    sync_result: p.sync?.result ?? validation,
    sync_details: p.sync?.details ?? NOTHING_SYNCED,
    message_delivery: p.messageDelivery ?? { sent: 0, delivered: 0, failed: 0 },
    issues: p.issues,
    recommendations: [...p.recommendations, ...offlineRecommendations(p.nodes)],
    confidence: Math.round(p.confidence * 100) / 100,
    execution_time: 0,
    validation_status: validation,
    ...(p.details === undefined ? {} : { details: p.details }),
  }
}

/** Whether a failed call got no answer at all (timeout, unreachable), not a refusal or an error the node answered with. */
export function noAnswer(error: Error, timedOut: boolean): boolean {
  const code = (error as { code?: string }).code
  return timedOut || code === undefined || ['ERR_PEER_UNREACHABLE', 'ERR_RPC_TIMEOUT', 'ERR_RPC_NO_ANSWER', 'ERR_RPC_FAILED'].includes(code)
}

/** The issue for a target that did not answer a live check. */
export function unreachableIssue(node: string, step: string, error: Error, timedOut: boolean): OpIssue {
  return {
    node,
    step,
    error: timedOut ? `no answer before the deadline (${error.message})` : error.message,
    suggestion: timedOut
      ? `increase timeout, or check ${node}'s load and network (aitbc-node nodes shows when it was last heard)`
      : noAnswer(error, false)
        ? `check that aitbc-node runs on ${node} (systemctl status aitbc-node) and that TCP 7070 is open between the nodes`
        : `${node} answered with this error: fix what it names on ${node} (journalctl -u aitbc-node), then run again`,
  }
}

/** The issues of the targets that did not answer one kind of call. */
export function unansweredIssues<T>(targets: readonly string[], answers: Answers<T>, step: string): OpIssue[] {
  return targets.flatMap((t) => {
    const r = answers.get(t)
    if (r === undefined) return [{ node: t, step, error: 'not asked: the operation ended first', suggestion: 'increase timeout' }]
    return r.ok ? [] : [unreachableIssue(t, step, r.error, r.timedOut)]
  })
}
