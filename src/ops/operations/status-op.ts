import type { OpRunner } from '../engine/ops-engine.js'
import type { OpIssue } from '../engine/op-types.js'
import { type ClusterAccess, resolveTargets } from './cluster-access.js'
import { gossipReport, statusReport } from './status-report.js'

/** `status` and `health`: the membership view, plus (verify) a live check of every target. */
export function statusRunner(access: ClusterAccess, deep: boolean): OpRunner {
  const operation = deep ? 'health' : 'status'
  return async (req, ctx) => {
    const targets = resolveTargets(access, req.target_node)
    if (!req.verify) {
      const rows = new Map(access.view().map((r) => [r.name, r]))
      return gossipReport(operation, req.target_node, targets, rows, access.suspectAfterMs)
    }
    const answers = await ctx.eachTarget(targets, async (node, signal) => {
      ctx.progress(node, 'verify', 'asking the node')
      const answer = await access.invoke(node, deep ? 'node.health' : 'node.status', null, { signal, deadlineAt: ctx.deadlineAt, opId: ctx.opId })
      ctx.progress(node, 'verify', 'answered')
      return answer
    })
    const now = Date.now()
    const ssh = new Map<string, OpIssue>()
    for (const t of targets) {
      if (answers.get(t)?.ok === true) continue
      const found = await sshFallback(access, t, req.force, ctx.signal)
      if (found !== null) ssh.set(t, found)
    }
    return statusReport({ operation, target: req.target_node, targets, answers, ssh, now })
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
