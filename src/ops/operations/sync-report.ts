import type { NodeStatusLine, OpIssue, OpReport, SyncKind, SyncKindState } from '../engine/op-types.js'
import type { LiveStatus, NodeActionResult } from '../node-actions/contract.js'
import { type Answers, buildReport, unansweredIssues, verifiedLine } from './report.js'

export type GitAnswer = NodeActionResult<'node.git.sync'>
export type DigestsAnswer = NodeActionResult<'node.config.digests'>

/** The config key that turns each kind on (docs/configuration.md, sync). */
export const KIND_CONFIG_KEY: Record<SyncKind, string> = {
  git: 'ops.gitDir', blockchain: 'chain.rpcUrl', mempool: 'chain.rpcUrl', configuration: 'ops.configFiles',
}

/** Everything a sync verified, and nothing else: the report is a function of this. */
export interface SyncFindings {
  target: string
  targets: string[]
  kinds: SyncKind[]
  force: boolean
  /** The latest node.status each target gave in this operation: the lines, heights and mempools shown and compared. */
  status: Answers<LiveStatus>
  git?: Answers<GitAnswer>
  /** Digests as read after any forced copy. */
  config?: Answers<DigestsAnswer>
  /** What the operation's own actions ran into, per kind (a refused or failed restart, a failed copy). */
  actionIssues: Partial<Record<SyncKind, OpIssue[]>>
  /** What the actions did (a file copied, where its backup is). */
  notes: string[]
}

type ChainReading = NonNullable<LiveStatus['chain']>

interface KindOutcome {
  state: SyncKindState
  issues: OpIssue[]
  recommendations: string[]
}

const NOT_CONFIGURED: KindOutcome = { state: 'not_configured', issues: [], recommendations: [] }

function okAnswers<T>(targets: readonly string[], answers: Answers<T>): [string, T][] {
  return targets.flatMap((t) => {
    const r = answers.get(t)
    return r?.ok === true ? [[t, r.value] as [string, T]] : []
  })
}

/** The node others are compared with: genesis when it is among them, else the first target among them. */
function referenceOf(targets: readonly string[], among: ReadonlyMap<string, unknown>): string | undefined {
  return among.has('genesis') ? 'genesis' : targets.find((t) => among.has(t))
}

/** The chain of each target whose chain RPC answered now. */
export function chainReadings(targets: readonly string[], status: Answers<LiveStatus>): Map<string, ChainReading> {
  return new Map(okAnswers(targets, status).flatMap(([n, s]) => {
    const ok = s.chain !== null && s.chain_error === null
    return ok ? [[n, s.chain!] as const] : []
  }))
}

/** Targets whose verified height is below the reference's. */
export function laggingNodes(targets: readonly string[], status: Answers<LiveStatus>): { node: string, by: number }[] {
  const readings = chainReadings(targets, status)
  const ref = referenceOf(targets, readings)
  if (ref === undefined) return []
  const top = readings.get(ref)!.height
  return [...readings].flatMap(([node, c]) => (node !== ref && c.height < top ? [{ node, by: top - c.height }] : []))
}

/** Issues for answered nodes without a chain RPC while others have one. */
function chainIssues(kind: SyncKind, f: SyncFindings): KindOutcome | OpIssue[] {
  const answered = okAnswers(f.targets, f.status)
  const configured = answered.filter(([, s]) => s.chain !== null || s.chain_error !== null)
  if (answered.length === f.targets.length && configured.length === 0) return NOT_CONFIGURED
  const issues: OpIssue[] = [...(f.actionIssues[kind] ?? [])]
  for (const [node, s] of answered) {
    if (s.chain === null && s.chain_error === null) {
      issues.push({ node, step: kind, error: 'no chain RPC configured (chain.rpcUrl is not set)', suggestion: `set chain.rpcUrl (or BLOCKCHAIN_RPC_URL) on ${node}` })
    } else if (s.chain_error !== null) {
      issues.push({ node, step: kind, error: s.chain_error, suggestion: `check the chain service and chain.rpcUrl on ${node}` })
    }
  }
  return issues
}

function blockchainKind(f: SyncFindings): KindOutcome {
  const found = chainIssues('blockchain', f)
  if (!Array.isArray(found)) return found
  const issues = found
  const recommendations: string[] = []
  const readings = chainReadings(f.targets, f.status)
  const ref = referenceOf(f.targets, readings)
  const acted = new Set((f.actionIssues.blockchain ?? []).map((i) => i.node))
  if (ref !== undefined) {
    const r = readings.get(ref)!
    for (const [node, c] of readings) {
      if (node === ref) continue
      if (c.height < r.height) {
        issues.push({
          node, step: 'blockchain', error: `behind ${ref} by ${r.height - c.height} blocks (${c.height} vs ${r.height})`,
          suggestion: !f.force ? 'run again with force to restart its chain service'
            : acted.has(node) ? 'it was not restarted: see its other issue' : `${node} did not catch up before the deadline; increase timeout`,
        })
      } else if (c.height > r.height) {
        issues.push({ node, step: 'blockchain', error: `ahead of ${ref} by ${c.height - r.height} blocks (${c.height} vs ${r.height})`, suggestion: `check why ${ref} lags` })
      } else if (c.hash !== r.hash) {
        issues.push({ node, step: 'blockchain', error: `hash mismatch at height ${c.height} (${c.hash} vs ${r.hash})`, suggestion: 'a fork: investigate before any restart' })
      }
    }
  }
  const lagging = laggingNodes(f.targets, f.status)
  if (!f.force && lagging.length > 0) {
    recommendations.push(`run sync --type blockchain --force to restart the chain service on ${lagging.map((l) => l.node).join(', ')}`)
  }
  return { state: settled(f, issues, ref !== undefined), issues, recommendations }
}

function mempoolKind(f: SyncFindings): KindOutcome {
  const found = chainIssues('mempool', f)
  if (!Array.isArray(found)) return found
  const issues = found
  const readings = [...chainReadings(f.targets, f.status)]
  for (const [node, c] of readings) {
    if (c.mempool_size === null) issues.push({ node, step: 'mempool', error: 'its chain RPC gave no mempool size', suggestion: `check the chain RPC's mempool endpoint on ${node}` })
  }
  const known = readings.filter(([, c]) => c.mempool_size !== null)
  if (new Set(known.map(([, c]) => c.mempool_size)).size > 1) {
    for (const [node, c] of known) {
      issues.push({ node, step: 'mempool', error: `mempool holds ${c.mempool_size} transactions`, suggestion: 'mempools converge through the chain P2P; check it if the difference stays' })
    }
  }
  return { state: settled(f, issues, known.length > 0), issues, recommendations: [] }
}

function gitKind(f: SyncFindings): KindOutcome {
  const answers: Answers<GitAnswer> = f.git ?? new Map()
  const ok = okAnswers(f.targets, answers)
  if (ok.length === f.targets.length && ok.every(([, g]) => g.state === 'not-configured')) return NOT_CONFIGURED
  const issues = unansweredIssues(f.targets, answers, 'git')
  for (const [node, g] of ok) {
    if (g.state === 'conflict') {
      issues.push({ node, step: 'git', error: g.detail, suggestion: `resolve by hand in ops.gitDir on ${node} (never reset automatically), then run sync --type git again` })
    } else if (g.state === 'not-configured') {
      issues.push({ node, step: 'git', error: g.detail, suggestion: `set ops.gitDir on ${node}, or leave git out of this sync` })
    } else if (g.head === null) {
      issues.push({ node, step: 'git', error: `no HEAD in ops.gitDir (${g.detail})`, suggestion: `check the repository in ops.gitDir on ${node}` })
    }
  }
  const heads = new Map(ok.filter(([, g]) => g.state !== 'conflict' && g.state !== 'not-configured' && g.head !== null).map(([n, g]) => [n, g]))
  const ref = referenceOf(f.targets, heads)
  const refHead = ref === undefined ? null : heads.get(ref)!.head
  for (const [node, g] of heads) {
    if (g.head === refHead) continue
    issues.push({
      node, step: 'git', error: `HEAD ${g.head} differs from ${ref}'s ${refHead}${g.state === 'ahead' ? ` (${g.detail})` : ''}`,
      suggestion: g.state === 'ahead'
        ? `push or drop ${node}'s local commits in ops.gitDir (never reset automatically)`
        : `compare the upstream of ops.gitDir on ${node} and ${ref}, then run sync --type git again`,
    })
  }
  const state = settled(f, issues, ref !== undefined)
  return { state, issues, recommendations: state === 'synced' ? [`git: all at ${refHead}`] : [] }
}

function configurationKind(f: SyncFindings): KindOutcome {
  const answers: Answers<DigestsAnswer> = f.config ?? new Map()
  const ok = okAnswers(f.targets, answers)
  const registries = new Set(ok.map(([, d]) => d.registry))
  const noFiles = ok.every(([, d]) => Object.keys(d.files).length === 0)
  if (ok.length === f.targets.length && noFiles && registries.size <= 1) return NOT_CONFIGURED
  const issues = [...(f.actionIssues.configuration ?? []), ...unansweredIssues(f.targets, answers, 'configuration')]
  const byNode = new Map(ok)
  const ref = referenceOf(f.targets, byNode)
  if (ref !== undefined) {
    const r = byNode.get(ref)!
    for (const [node, d] of ok) {
      if (node === ref) continue
      for (const file of new Set([...Object.keys(r.files), ...Object.keys(d.files)])) {
        if (d.files[file] === r.files[file]) continue
        issues.push({
          node, step: 'configuration', error: `${file} differs from ${ref}'s`,
          suggestion: f.force ? `compare ${file} on ${node} and ${ref}` : `run with force to copy ${ref}'s ${file} (a backup is kept)`,
        })
      }
      if (d.registry !== r.registry) issues.push({ node, step: 'configuration', error: `uses a different Redis registry than ${ref}`, suggestion: `point REDIS_URL on ${node} at the shared Redis` })
    }
  }
  return { state: settled(f, issues, ref !== undefined), issues, recommendations: [] }
}

/** Synced only with no issue, a reference, and every target's state verified in this operation. */
function settled(f: SyncFindings, issues: OpIssue[], compared: boolean): SyncKindState {
  const everyone = f.targets.every((t) => f.status.get(t)?.ok === true)
  return issues.length === 0 && compared && everyone ? 'synced' : 'not_synced'
}

const EVALUATE: Record<SyncKind, (f: SyncFindings) => KindOutcome> = {
  git: gitKind, blockchain: blockchainKind, mempool: mempoolKind, configuration: configurationKind,
}

/**
 * The sync report, a pure function of what the sync verified: the heights in
 * nodes_status are the ones compared, and every field below derives from the
 * same answers. Kinds no target is configured for are left out of
 * sync_result (success when every other kind is in sync); when no requested
 * kind is configured anywhere, nothing was synced and the result is failed.
 */
export function syncReport(f: SyncFindings): OpReport {
  const outcomes = new Map(f.kinds.map((k) => [k, EVALUATE[k](f)] as const))
  const considered = f.kinds.filter((k) => outcomes.get(k)!.state !== 'not_configured')
  const unconfigured = f.kinds.filter((k) => outcomes.get(k)!.state === 'not_configured')
  const keys = [...new Set(unconfigured.map((k) => KIND_CONFIG_KEY[k]))]
  const issues = unansweredIssues(f.targets, f.status, 'verify')
  issues.push(...considered.flatMap((k) => outcomes.get(k)!.issues))
  if (!considered.includes('blockchain') && !considered.includes('mempool')) {
    // Not a sync failure, but the table shows the node degraded: the report says why (seed 000: no service degradation).
    for (const [node, s] of okAnswers(f.targets, f.status)) {
      if (s.chain_error !== null) issues.push({ node, step: 'chain', error: s.chain_error, suggestion: `check the chain service on ${node} (systemctl status aitbc-blockchain-node)` })
    }
  }
  if (considered.length === 0) {
    for (const node of f.targets.filter((t) => f.status.get(t)?.ok === true)) {
      issues.push({ node, step: 'sync', error: `${unconfigured.join(', ')} not configured on ${node}`, suggestion: `set ${keys.join(', ')} in ${node}'s config to sync ${unconfigured.join(', ')}` })
    }
  }
  const synced = considered.filter((k) => outcomes.get(k)!.state === 'synced')
  const result: OpReport['sync_result'] = considered.length > 0 && synced.length === considered.length
    ? 'success'
    : synced.length === 0 ? 'failed' : 'partial'
  const nodes: Record<string, NodeStatusLine> = Object.fromEntries(f.targets.map((t) => [t, verifiedLine(f.status.get(t))]))
  const answered = f.targets.filter((t) => f.status.get(t)?.ok === true).length
  const silent = f.targets.length - answered
  const degraded = Object.values(nodes).filter((l) => l.status === 'degraded').length
  const recommendations = [...considered.flatMap((k) => outcomes.get(k)!.recommendations), ...f.notes]
  if (considered.length > 0) {
    for (const k of unconfigured) recommendations.push(`${k} sync is not configured on any target: set ${KIND_CONFIG_KEY[k]} on each node to include it`)
  }
  if (issues.length === 0) recommendations.push('Nodes are fully synchronized')
  const state = (k: SyncKind): boolean => outcomes.get(k)?.state === 'synced'
  const head = considered.length === 0
    ? `nothing synced: ${unconfigured.join(', ')} not configured on any of the ${f.targets.length} nodes (set ${keys.join(', ')})`
    : `${considered.join(', ')} sync: ${result === 'success' ? 'all in sync' : `${considered.length - synced.length} of ${considered.length} not in sync`} across ${f.targets.length} nodes`
  return buildReport({
    operation: 'sync', target: f.target, targets: f.targets, nodes, issues,
    // How much of the cluster answered (docs/api.md, operations), not how much is in sync: that is in the issues.
    confidence: answered / Math.max(1, f.targets.length),
    recommendations,
    sync: {
      result,
      details: {
        blockchain_synced: state('blockchain'), mempool_synced: state('mempool'), configuration_synced: state('configuration'), git_synced: state('git'),
        kinds: Object.fromEntries(f.kinds.map((k) => {
          const s = outcomes.get(k)!.state
          return [k, { state: s, config_key: s === 'not_configured' ? KIND_CONFIG_KEY[k] : null }]
        })),
      },
    },
    summary: `${head}${degraded > 0 ? `, ${degraded} degraded` : ''}${silent > 0 ? `, ${silent} did not answer` : ''}${considered.length > 0 && unconfigured.length > 0 ? `; ${unconfigured.join(', ')} not configured (set ${keys.join(', ')})` : ''}`,
  })
}
