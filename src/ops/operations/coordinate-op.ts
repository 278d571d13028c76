import type { OpRunner } from '../engine/ops-engine.js'
import type { OpIssue } from '../engine/op-types.js'
import { type ClusterAccess, resolveTargets } from './cluster-access.js'
import { buildReport, unreachableIssue, verifiedLine } from './report.js'

/** An allowlisted action as the coordinate operation sees it. */
export interface ActionInfo {
  requiresForce: boolean
  description: string
}

/** What node.action answers. */
export interface ActionResult {
  ok: boolean
  exit_code: number | null
  output: string
}

/** Thrown before queuing for an action that is not in ops.actions, or that needs force. */
export class ActionRefusedError extends Error {
  readonly code = 'ERR_OPS_ACTION'
}

/** Validates coordinate's action: named, allowlisted, and forced when it changes something. */
export function checkAction(actions: Record<string, ActionInfo>, action: string | undefined, force: boolean): void {
  const names = Object.keys(actions)
  if (action === undefined) throw new ActionRefusedError(`action: required for coordinate; allowed: ${names.join(', ') || '(none configured in ops.actions)'}`)
  const info = actions[action]
  if (info === undefined) throw new ActionRefusedError(`action: "${action}" is not in ops.actions; allowed: ${names.join(', ') || '(none)'}`)
  if (info.requiresForce && !force) throw new ActionRefusedError(`action: "${action}" changes the node (${info.description || 'requiresForce'}); send force: true to run it`)
}

/**
 * `coordinate`: runs an allowlisted action on the targets in stages of at most
 * stageSize nodes; once stopAfterFailures targets failed, no new stage starts.
 */
export function coordinateRunner(access: ClusterAccess, stageSize: number, stopAfterFailures: number): OpRunner {
  return async (req, ctx) => {
    const targets = resolveTargets(access, req.target_node)
    const issues: OpIssue[] = []
    const succeeded: string[] = []
    // The action's own output (its tail), per node: in the report and, as progress, in the journal.
    const output: Record<string, unknown> = {}
    let failures = 0
    for (let i = 0; i < targets.length; i += stageSize) {
      const stage = targets.slice(i, i + stageSize)
      if (failures >= stopAfterFailures) {
        for (const node of stage) issues.push({ node, step: 'coordinate', error: 'skipped: failure threshold reached in an earlier stage', suggestion: 'fix the failed nodes, then run again' })
        continue
      }
      ctx.progress(null, 'stage', `${req.action} on ${stage.join(', ')}`)
      const results = await ctx.eachTarget(stage, (node, signal) =>
        access.invoke(node, 'node.action', { name: req.action ?? '' }, { signal, deadlineAt: ctx.deadlineAt, opId: ctx.opId }))
      for (const node of stage) {
        const r = results.get(node)!
        if (!r.ok) {
          failures++
          issues.push(unreachableIssue(node, req.action ?? 'action', r.error, r.timedOut))
        } else if (!r.value.ok) {
          failures++
          output[node] = { exit_code: r.value.exit_code, output: r.value.output.slice(-2000) }
          const denied = /EACCES|permission denied/i.test(r.value.output)
          issues.push({
            node, step: req.action ?? 'action', error: `${denied ? 'permission denied' : `exit ${r.value.exit_code}`}: ${r.value.output}`,
            suggestion: denied
              ? `check that the daemon's user on ${node} may run ${req.action}'s command (file mode, sudo rules)`
              : `run the action by hand on ${node} to see why`,
          })
        } else {
          succeeded.push(node)
          output[node] = { exit_code: r.value.exit_code, output: r.value.output.slice(-2000) }
          ctx.progress(node, req.action ?? 'action', `done${r.value.output === '' ? '' : `: ${r.value.output.slice(-500)}`}`)
        }
      }
    }
    // The table shows each node as it answered after the action, never the gossip from before it.
    const status = ctx.signal.aborted ? new Map() : await ctx.eachTarget(targets, (node, signal) =>
      access.invoke(node, 'node.status', null, { signal, deadlineAt: ctx.deadlineAt, opId: ctx.opId }))
    const withIssue = new Set(issues.map((i) => i.node))
    for (const t of targets) {
      const r = status.get(t)
      if (r?.ok !== true && !withIssue.has(t)) {
        issues.push(r === undefined
          ? { node: t, step: 'verify', error: 'its state was not read after the action: the deadline had passed', suggestion: `aitbc-node status --target ${t}` }
          : unreachableIssue(t, 'verify', r.error, r.timedOut))
      }
    }
    return buildReport({
      operation: 'coordinate', target: req.target_node, targets,
      nodes: Object.fromEntries(targets.map((t) => [t, verifiedLine(status.get(t))])),
      issues,
      // Confidence is how much of the cluster answered (docs/api.md, operations), not how much succeeded.
      confidence: targets.filter((t) => status.get(t)?.ok === true).length / targets.length,
      recommendations: issues.length === 0 ? [`${req.action} succeeded on every target`] : [],
      summary: `${req.action}: succeeded on ${succeeded.length} of ${targets.length} nodes`,
      details: { output },
    })
  }
}
