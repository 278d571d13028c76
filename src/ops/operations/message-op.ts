import type { OpRunner } from '../engine/ops-engine.js'
import type { OpIssue } from '../engine/op-types.js'
import { type ClusterAccess, resolveTargets } from './cluster-access.js'
import { buildReport, lineFromView } from './report.js'

/** `message`: delivery through the mesh with receipts, counted as sent / delivered / failed. */
export function messageRunner(access: ClusterAccess): OpRunner {
  return async (req, ctx) => {
    const targets = resolveTargets(access, req.target_node).filter((t) => t !== access.selfName)
    const rows = new Map(access.view().map((r) => [r.name, r]))
    const nodes = Object.fromEntries(targets.map((t) => [t, lineFromView(rows.get(t))]))
    const text = req.message ?? ''
    const waitMs = Math.max(0, ctx.deadlineAt - Date.now() - 50)
    ctx.progress(null, 'send', `to ${req.target_node}`)
    const rec = await access.send(req.target_node, text, Math.max(100, ctx.deadlineAt - Date.now()), waitMs)
    const issues: OpIssue[] = []
    const succeeded: string[] = []
    for (const [t, r] of Object.entries(rec.receipts)) {
      ctx.progress(t, 'receipt', r.state)
      if (r.state === 'delivered' || r.state === 'duplicate') succeeded.push(t)
      else {
        issues.push({
          node: t, step: 'deliver', error: `${r.state}${r.reason === null ? '' : `: ${r.reason}`}`,
          suggestion: r.state === 'queued'
            ? `the message stays queued until its ttl; GET /messages/${rec.id} shows when ${t} gets it`
            : `check ${t} with aitbc-node status --target ${t}`,
        })
      }
    }
    const failed = Object.values(rec.receipts).filter((r) => r.state === 'rejected' || r.state === 'expired').length
    return buildReport({
      operation: 'message', target: req.target_node, targets, nodes, issues,
      confidence: targets.length === 0 ? 1 : succeeded.length / targets.length,
      recommendations: issues.length === 0 ? ['Message delivered with receipts to every target'] : [],
      messageDelivery: { sent: targets.length, delivered: succeeded.length, failed },
      summary: `message ${rec.id}: delivered to ${succeeded.length} of ${targets.length} nodes`,
    })
  }
}
