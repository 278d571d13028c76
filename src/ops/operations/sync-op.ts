import type { TargetResult } from '../engine/fan-out.js'
import type { OpContext, OpRunner } from '../engine/ops-engine.js'
import { type OpIssue, SYNC_KINDS, type SyncKind } from '../engine/op-types.js'
import type { ChainAnswer, LiveStatus } from '../node-actions/contract.js'
import { type ClusterAccess, resolveTargets } from './cluster-access.js'
import { type DigestsAnswer, laggingNodes, type SyncFindings, syncReport } from './sync-report.js'

export type { ChainAnswer }

const pause = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, ms)
  signal.addEventListener('abort', () => {
    clearTimeout(timer)
    resolve()
  }, { once: true })
})

const callOf = (ctx: OpContext, signal: AbortSignal) => ({ signal, deadlineAt: ctx.deadlineAt, opId: ctx.opId })

/** Newer answers replace older ones; a read cut off by the deadline keeps what the node answered before. */
function merge<T>(into: Map<string, TargetResult<T>>, fresh: Map<string, TargetResult<T>>): void {
  for (const [node, r] of fresh) {
    if (r.ok || !r.timedOut || into.get(node)?.ok !== true) into.set(node, r)
  }
}

/** Every target's live status: chain height, hash and mempool read from its chain RPC now. */
function readStatus(access: ClusterAccess, ctx: OpContext, targets: string[]) {
  return ctx.eachTarget(targets, (node, signal) => access.invoke(node, 'node.status', null, callOf(ctx, signal)))
}

async function syncGitKind(access: ClusterAccess, ctx: OpContext, targets: string[]) {
  const answers = await ctx.eachTarget(targets, (node, signal) => access.invoke(node, 'node.git.sync', { apply: true }, callOf(ctx, signal)))
  for (const [node, r] of answers) {
    if (r.ok) ctx.progress(node, 'git', r.value.head === null ? `${r.value.state} (${r.value.detail})` : `${r.value.state}: ${r.value.head}`)
  }
  return answers
}

/** Verifies a node's git before a forced change (seed 000); returns the problem, or null when fine. */
async function gitProblem(access: ClusterAccess, ctx: OpContext, node: string): Promise<string | null> {
  const git = await access.invoke(node, 'node.git.sync', { apply: false }, ctx).catch((e: Error) => e)
  if (git instanceof Error) return git.message
  return git.state === 'conflict' ? git.detail : null
}

/**
 * With force, restarts the chain service of each lagging node (git verified
 * and health checked first, seed 000), then re-reads every status until the
 * restarted nodes caught up or the deadline passed: the last answers are the
 * ones the report shows and compares.
 */
async function forceChain(
  access: ClusterAccess,
  ctx: OpContext,
  targets: string[],
  status: Map<string, TargetResult<LiveStatus>>,
): Promise<OpIssue[]> {
  const restarted = new Set<string>()
  // Each lagging node is checked and restarted on its own, side by side (at most the peer concurrency).
  const lagging = laggingNodes(targets, status).map((l) => l.node)
  const outcomes = await ctx.eachTarget(lagging, async (node, signal): Promise<OpIssue | null> => {
    const call = callOf(ctx, signal)
    const problem = await gitProblem(access, ctx, node)
    if (problem !== null) return { node, step: 'verify-git', error: problem, suggestion: `fix git on ${node} before forcing a restart` }
    const health = await access.invoke(node, 'node.health', null, call).catch((e: Error) => e)
    if (health instanceof Error || !health.redis.ok) {
      return {
        node, step: 'check-health', error: health instanceof Error ? health.message : 'its Redis registry is unreachable',
        suggestion: `fix ${node}'s health (aitbc-node health --target ${node}) before forcing a restart`,
      }
    }
    ctx.progress(node, 'restart', 'restarting the chain service (force)')
    const res = await access.invoke(node, 'node.service', { verb: 'restart' }, call).catch((e: Error) => ({ ok: false, output: e.message }))
    if (!res.ok) return { node, step: 'restart', error: res.output, suggestion: `check journalctl -u aitbc-blockchain-node on ${node}` }
    restarted.add(node)
    return null
  })
  const issues = lagging.flatMap((node) => {
    const r = outcomes.get(node)!
    if (!r.ok) return [{ node, step: 'restart', error: r.error.message, suggestion: `check journalctl -u aitbc-blockchain-node on ${node}` }]
    return r.value === null ? [] : [r.value]
  })
  // Only the nodes restarted here are waited for: the others will not move by themselves.
  while (!ctx.signal.aborted && laggingNodes(targets, status).some((l) => restarted.has(l.node))) {
    await pause(500, ctx.signal)
    if (ctx.signal.aborted) break
    merge(status, await readStatus(access, ctx, targets))
  }
  return issues
}

/** Reads the digests; with force, copies the reference's differing files (git verified first) and reads them again. */
async function syncConfigKind(access: ClusterAccess, ctx: OpContext, targets: string[], f: SyncFindings) {
  const read = () => ctx.eachTarget(targets, (node, signal) => access.invoke(node, 'node.config.digests', null, callOf(ctx, signal)))
  const digests: Map<string, TargetResult<DigestsAnswer>> = await read()
  const ok = new Map([...digests].flatMap(([n, r]) => (r.ok ? [[n, r.value] as const] : [])))
  const ref = ok.has('genesis') ? 'genesis' : targets.find((t) => ok.has(t))
  if (!f.force || ref === undefined) return digests
  const issues: OpIssue[] = []
  const r = ok.get(ref)!
  let copied = false
  for (const [node, d] of ok) {
    if (node === ref) continue
    const differing = Object.keys(r.files).filter((x) => r.files[x] !== null && d.files[x] !== r.files[x])
    if (differing.length === 0) continue
    const problem = await gitProblem(access, ctx, node)
    if (problem !== null) {
      issues.push({ node, step: 'verify-git', error: problem, suggestion: `fix git on ${node} before forcing a config copy` })
      continue
    }
    for (const file of differing) {
      try {
        const { content_b64: content } = await access.invoke(ref, 'node.config.read', { name: file }, ctx)
        const { backup } = await access.invoke(node, 'node.config.write', { name: file, content_b64: content }, ctx)
        copied = true
        ctx.progress(node, 'configuration', `copied ${file} from ${ref}${backup === null ? '' : ` (backup ${backup})`}`)
        f.notes.push(`${file} copied from ${ref} to ${node}${backup === null ? '' : `; the old one is ${backup}`}`)
      } catch (err) {
        issues.push({ node, step: 'configuration', error: `copying ${file} failed: ${(err as Error).message}`, suggestion: `copy ${file} from ${ref} by hand` })
      }
    }
  }
  f.actionIssues.configuration = issues
  // What the report compares is read back from the nodes, not assumed from the copies.
  if (copied) merge(digests, await read())
  return digests
}

/** `sync` with sync_type git, blockchain, mempool, configuration or all; the report is built from what this verified. */
export function syncRunner(access: ClusterAccess): OpRunner {
  return async (req, ctx) => {
    const targets = resolveTargets(access, req.target_node)
    const kinds: SyncKind[] = req.sync_type === undefined || req.sync_type === 'all' ? [...SYNC_KINDS] : [req.sync_type]
    ctx.progress(null, 'verify', 'reading every node\'s status')
    const status = await readStatus(access, ctx, targets)
    let readAt = Date.now()
    const f: SyncFindings = { target: req.target_node, targets, kinds, force: req.force, status, actionIssues: {}, notes: [] }
    for (const kind of kinds) {
      ctx.progress(null, kind, 'starting')
      if (kind === 'git') f.git = await syncGitKind(access, ctx, targets)
      if (kind === 'configuration') f.config = await syncConfigKind(access, ctx, targets, f)
      if (kind === 'blockchain' || kind === 'mempool') {
        // The chain is compared as it is now, not as it was before the kinds that ran first.
        if (Date.now() - readAt > 1000) merge(status, await readStatus(access, ctx, targets))
        if (kind === 'blockchain' && req.force) f.actionIssues.blockchain = await forceChain(access, ctx, targets, status)
        readAt = Date.now()
      }
    }
    return syncReport(f)
  }
}
