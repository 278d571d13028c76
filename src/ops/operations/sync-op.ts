import type { OpContext, OpRunner } from '../engine/ops-engine.js'
import type { OpIssue, OpReport, OpRequest } from '../engine/op-types.js'
import type { ChainAnswer, NodeActionName, NodeActionParams, NodeActionResult } from '../node-actions/contract.js'
import { type ClusterAccess, resolveTargets } from './cluster-access.js'
import { buildReport, lineFromView, noAnswer, unreachableIssue } from './report.js'

export type { ChainAnswer }

/** Targets that did not answer some call of this operation (for confidence). */
const unansweredByOp = new WeakMap<OpContext, Set<string>>()
function unanswered(ctx: OpContext): Set<string> {
  let set = unansweredByOp.get(ctx)
  if (set === undefined) unansweredByOp.set(ctx, (set = new Set()))
  return set
}

type Kind = 'git' | 'blockchain' | 'mempool' | 'configuration'
interface KindResult {
  synced: boolean
  issues: OpIssue[]
  recommendations: string[]
}

const pause = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, ms)
  signal.addEventListener('abort', () => {
    clearTimeout(timer)
    resolve()
  }, { once: true })
})

/** The node others are compared with: genesis when it is a target and answered, else the first that answered. */
function reference<T>(targets: string[], answers: Map<string, T>): string | undefined {
  return answers.has('genesis') ? 'genesis' : targets.find((t) => answers.has(t))
}

async function ask<N extends NodeActionName>(
  access: ClusterAccess,
  ctx: OpContext,
  targets: string[],
  method: N,
  params: NodeActionParams<N>,
  step: string,
) {
  const results = await ctx.eachTarget(targets, (node, signal) =>
    access.invoke(node, method, params, { signal, deadlineAt: ctx.deadlineAt, opId: ctx.opId }))
  const answers = new Map<string, NodeActionResult<N>>()
  const issues: OpIssue[] = []
  for (const t of targets) {
    const r = results.get(t)!
    if (!r.ok && noAnswer(r.error, r.timedOut)) unanswered(ctx).add(t)
    if (r.ok) answers.set(t, r.value)
    else issues.push(unreachableIssue(t, step, r.error, r.timedOut))
  }
  return { answers, issues }
}

async function syncGitKind(access: ClusterAccess, ctx: OpContext, targets: string[]): Promise<KindResult> {
  const { answers, issues } = await ask(access, ctx, targets, 'node.git.sync', { apply: true }, 'git')
  for (const [node, g] of answers) {
    ctx.progress(node, 'git', g.head === null ? `${g.state} (${g.detail})` : `${g.state}: ${g.head}`)
    if (g.state === 'conflict') {
      issues.push({ node, step: 'git', error: g.detail, suggestion: `resolve by hand in ops.gitDir on ${node} (never reset automatically), then run sync --type git again` })
    } else if (g.state === 'not-configured') {
      issues.push({ node, step: 'git', error: g.detail, suggestion: `set ops.gitDir on ${node}` })
    }
  }
  const heads = new Set([...answers.values()].map((g) => g.head))
  const synced = issues.length === 0 && heads.size === 1
  const recommendations = synced ? [`git: all at ${[...heads][0]}`] : heads.size > 1 ? ['git: HEADs differ; see issues'] : []
  return { synced, issues, recommendations }
}

async function syncChainKind(access: ClusterAccess, ctx: OpContext, targets: string[], req: OpRequest): Promise<KindResult> {
  const read = () => ask(access, ctx, targets, 'node.chain', null, 'blockchain')
  const first = await read()
  const issues = first.issues
  let answers = first.answers
  const recommendations: string[] = []
  const ref = reference(targets, answers)
  if (ref === undefined) return { synced: false, issues, recommendations }
  const lagging = (): { node: string, by: number }[] => {
    const r = answers.get(ref)!
    return [...answers].flatMap(([node, c]) =>
      (node !== ref && c.height !== null && r.height !== null && c.height < r.height ? [{ node, by: r.height - c.height }] : []))
  }
  if (req.force && lagging().length > 0) {
    for (const { node } of lagging()) {
      // Seed 000: verify git before any forced operation, and check health before a critical one.
      const problem = await gitProblem(access, ctx, node)
      if (problem !== null) {
        issues.push({ node, step: 'verify-git', error: problem, suggestion: `fix git on ${node} before forcing a restart` })
        continue
      }
      const health = await access.invoke(node, 'node.health', null, ctx).catch((e: Error) => e)
      if (health instanceof Error || !health.redis.ok) {
        issues.push({
          node, step: 'check-health', error: health instanceof Error ? health.message : 'its Redis registry is unreachable',
          suggestion: `fix ${node}'s health (aitbc-node health --target ${node}) before forcing a restart`,
        })
        continue
      }
      ctx.progress(node, 'restart', 'restarting the chain service (force)')
      const res = await access.invoke(node, 'node.service', { verb: 'restart' }, ctx).catch((e: Error) => ({ ok: false, output: e.message }))
      if (!res.ok) issues.push({ node, step: 'restart', error: res.output, suggestion: `check journalctl -u aitbc-blockchain-node on ${node}` })
    }
    // Wait (within the deadline) for the restarted nodes to catch up.
    while (!ctx.signal.aborted && lagging().length > 0) {
      await pause(500, ctx.signal)
      if (ctx.signal.aborted) break
      const again = await read()
      answers = again.answers
    }
  } else if (lagging().length > 0) {
    recommendations.push(`run sync --type blockchain --force to restart the chain service on ${lagging().map((l) => l.node).join(', ')}`)
  }
  const r = answers.get(ref)!
  for (const [node, c] of answers) {
    if (c.error !== null) issues.push({ node, step: 'blockchain', error: c.error, suggestion: `check the chain service and chain.rpcUrl on ${node}` })
    if (node === ref || c.height === null || r.height === null) continue
    if (c.height < r.height) issues.push({ node, step: 'blockchain', error: `behind ${ref} by ${r.height - c.height} blocks (${c.height} vs ${r.height})`, suggestion: req.force ? `${node} did not catch up before the deadline; increase timeout` : 'run again with force to restart its chain service' })
    else if (c.height > r.height) issues.push({ node, step: 'blockchain', error: `ahead of ${ref} by ${c.height - r.height} blocks (${c.height} vs ${r.height})`, suggestion: `check why ${ref} lags` })
    else if (c.hash !== r.hash) issues.push({ node, step: 'blockchain', error: `hash mismatch at height ${c.height} (${c.hash} vs ${r.hash})`, suggestion: 'a fork: investigate before any restart' })
  }
  return { synced: issues.length === 0, issues, recommendations }
}

async function syncMempoolKind(access: ClusterAccess, ctx: OpContext, targets: string[]): Promise<KindResult> {
  const { answers, issues } = await ask(access, ctx, targets, 'node.chain', null, 'mempool')
  const sizes = new Set([...answers.values()].map((c) => c.mempool_size))
  if (sizes.size > 1) {
    for (const [node, c] of answers) issues.push({ node, step: 'mempool', error: `mempool holds ${c.mempool_size} transactions`, suggestion: 'mempools converge through the chain P2P; check it if the difference stays' })
  }
  return { synced: issues.length === 0, issues, recommendations: [] }
}

/** Verifies a node's git before a forced change (seed 000); returns the problem, or null when fine. */
async function gitProblem(access: ClusterAccess, ctx: OpContext, node: string): Promise<string | null> {
  const git = await access.invoke(node, 'node.git.sync', { apply: false }, ctx).catch((e: Error) => e)
  if (git instanceof Error) return git.message
  return git.state === 'conflict' ? git.detail : null
}

async function syncConfigKind(access: ClusterAccess, ctx: OpContext, targets: string[], force: boolean): Promise<KindResult> {
  const { answers, issues } = await ask(access, ctx, targets, 'node.config.digests', null, 'configuration')
  const recommendations: string[] = []
  const ref = reference(targets, answers)
  if (ref !== undefined) {
    const r = answers.get(ref)!
    for (const [node, d] of answers) {
      if (node === ref) continue
      const differing = [...new Set([...Object.keys(r.files), ...Object.keys(d.files)])].filter((f) => d.files[f] !== r.files[f])
      if (force && differing.length > 0) {
        const problem = await gitProblem(access, ctx, node)
        if (problem !== null) {
          issues.push({ node, step: 'verify-git', error: problem, suggestion: `fix git on ${node} before forcing a config copy` })
        } else {
          for (const f of differing.filter((x) => r.files[x] !== null)) {
            try {
              const { content_b64: content } = await access.invoke(ref, 'node.config.read', { name: f }, ctx)
              const { backup } = await access.invoke(node, 'node.config.write', { name: f, content_b64: content }, ctx)
              ctx.progress(node, 'configuration', `copied ${f} from ${ref}${backup === null ? '' : ` (backup ${backup})`}`)
              recommendations.push(`${f} copied from ${ref} to ${node}${backup === null ? '' : `; the old one is ${backup}`}`)
              d.files[f] = r.files[f] ?? null
            } catch (err) {
              issues.push({ node, step: 'configuration', error: `copying ${f} failed: ${(err as Error).message}`, suggestion: `copy ${f} from ${ref} by hand` })
            }
          }
        }
      }
      for (const f of differing) {
        if (d.files[f] !== r.files[f]) {
          issues.push({ node, step: 'configuration', error: `${f} differs from ${ref}'s`, suggestion: force ? `compare ${f} on ${node} and ${ref}` : `run with force to copy ${ref}'s ${f} (a backup is kept)` })
        }
      }
      if (d.registry !== r.registry) issues.push({ node, step: 'configuration', error: `uses a different Redis registry than ${ref}`, suggestion: `point REDIS_URL on ${node} at the shared Redis` })
    }
  }
  return { synced: issues.length === 0, issues, recommendations }
}

/** `sync` with sync_type git, blockchain, mempool, configuration or all, each with its own result. */
export function syncRunner(access: ClusterAccess): OpRunner {
  return async (req, ctx) => {
    const targets = resolveTargets(access, req.target_node)
    const rows = new Map(access.view().map((r) => [r.name, r]))
    const kinds: Kind[] = req.sync_type === undefined || req.sync_type === 'all' ? ['git', 'blockchain', 'mempool', 'configuration'] : [req.sync_type]
    const results: Partial<Record<Kind, KindResult>> = {}
    for (const kind of kinds) {
      ctx.progress(null, kind, 'starting')
      if (kind === 'git') results.git = await syncGitKind(access, ctx, targets)
      if (kind === 'blockchain') results.blockchain = await syncChainKind(access, ctx, targets, req)
      if (kind === 'mempool') results.mempool = await syncMempoolKind(access, ctx, targets)
      if (kind === 'configuration') results.configuration = await syncConfigKind(access, ctx, targets, req.force)
    }
    const issues = kinds.flatMap((k) => results[k]!.issues)
    const synced = kinds.filter((k) => results[k]!.synced)
    const details: OpReport['sync_details'] = {
      blockchain_synced: results.blockchain?.synced ?? false,
      mempool_synced: results.mempool?.synced ?? false,
      configuration_synced: results.configuration?.synced ?? false,
      git_synced: results.git?.synced ?? false,
    }
    const failedNodes = new Set(issues.map((i) => i.node))
    return buildReport({
      operation: 'sync', target: req.target_node, targets,
      nodes: Object.fromEntries(targets.map((t) => [t, lineFromView(rows.get(t))])),
      issues,
      succeeded: targets.filter((t) => !failedNodes.has(t)),
      // How much of the cluster answered (README), not how much is in sync: that is in the issues.
      confidence: (targets.length - unanswered(ctx).size) / targets.length,
      recommendations: kinds.flatMap((k) => results[k]!.recommendations),
      sync: { result: synced.length === kinds.length ? 'success' : synced.length === 0 ? 'failed' : 'partial', details },
      summary: `${kinds.join(', ')} sync: ${synced.length === kinds.length ? 'all in sync' : `${kinds.length - synced.length} of ${kinds.length} not in sync`} across ${targets.length} nodes`,
    })
  }
}
