import type { NodeView } from '../../p2p/index.js'
import type { NodeStatusLine, Operation, OpIssue, OpReport } from '../engine/op-types.js'

/** The nodes_status line of a node from the membership view. */
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

export interface ReportParts {
  operation: Operation
  target: string
  targets: string[]
  nodes: Record<string, NodeStatusLine>
  issues: OpIssue[]
  /** Targets whose part of the operation succeeded. */
  succeeded: string[]
  /** Share of targets whose state was checked live in this operation (see README). */
  confidence: number
  recommendations: string[]
  messageDelivery?: OpReport['message_delivery']
  sync?: { result: OpReport['sync_result'], details: OpReport['sync_details'] }
  summary: string
  /** What this operation found per node beyond seed 000's fields (health checks, action output). */
  details?: OpReport['details']
}

const NOTHING_SYNCED = { blockchain_synced: false, mempool_synced: false, configuration_synced: false, git_synced: false }

/** Seed 000's report; validation_status is success when every target succeeded, failed when none did. */
export function buildReport(p: ReportParts): OpReport {
  const ok = p.succeeded.length
  const validation: OpReport['validation_status'] = ok === p.targets.length ? 'success' : ok === 0 ? 'failed' : 'partial'
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
    recommendations: p.recommendations,
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
