import fc from 'fast-check'
import t from 'tap'
import type { TargetResult } from '../../../src/ops/engine/fan-out.js'
import { type OpIssue, type OpReport, SYNC_KINDS, type SyncKind } from '../../../src/ops/engine/op-types.js'
import type { LiveHealth, LiveStatus } from '../../../src/ops/node-actions/contract.js'
import { statusReport } from '../../../src/ops/operations/status-report.js'
import { type DigestsAnswer, type GitAnswer, KIND_CONFIG_KEY, syncReport, type SyncFindings } from '../../../src/ops/operations/sync-report.js'

const NAMES = ['genesis', 'follower', 'aitbc1', 'aitbc2']
const NOW = 1_800_000_000_000

/** A call that failed: timed out, unreachable, or refused by the node. */
const failure = fc.constantFrom(
  { ok: false as const, error: new Error('no answer before the deadline'), timedOut: true, ms: 5 },
  { ok: false as const, error: Object.assign(new Error('peer unreachable'), { code: 'ERR_PEER_UNREACHABLE' }), timedOut: false, ms: 5 },
  { ok: false as const, error: Object.assign(new Error('forbidden'), { code: 'ERR_NODE_ACTION_FORBIDDEN' }), timedOut: false, ms: 5 },
)
const answer = <T>(value: fc.Arbitrary<T>): fc.Arbitrary<TargetResult<T>> =>
  fc.oneof(
    { weight: 3, arbitrary: value.map((v) => ({ ok: true as const, value: v, ms: 3 })) },
    { weight: 1, arbitrary: failure },
  )

/** A node's chain: not configured, failing, or a reading (few heights and hashes, so equal ones are common). */
const chain = fc.oneof(
  fc.constant({ chain: null, chain_error: null }),
  fc.constant({ chain: null, chain_error: 'HTTP 500 from the chain RPC' }),
  fc.record({ height: fc.integer({ min: 95, max: 97 }), hash: fc.constantFrom('0xa', '0xb'), mempool_size: fc.option(fc.integer({ min: 0, max: 2 }), { freq: 8 }) })
    .map((c) => ({ chain: c, chain_error: null })),
  fc.record({ height: fc.constant(122), hash: fc.constant('0xa'), mempool_size: fc.constant(1) }).map((c) => ({ chain: c, chain_error: null })),
)

const liveStatus = (node: string): fc.Arbitrary<LiveStatus> => fc.record({
  chain,
  p2p_connections: fc.integer({ min: 0, max: 3 }),
  uptime_s: fc.integer({ min: 0, max: 500_000 }),
  last_sync: fc.option(fc.constant(1_775_811_500)),
}).map(({ chain: c, ...rest }) => ({ node, version: '1.0.0', git_head: null, time: NOW, ...c, ...rest }))

const liveHealth = (node: string): fc.Arbitrary<LiveHealth> => fc.record({
  base: liveStatus(node),
  problems: fc.subarray(['Redis registry unreachable: ECONNREFUSED', 'disk almost full: 3 MB free in /var/lib/aitbc/node']),
  registry: fc.constantFrom('r1', 'r1', 'r2'),
  skew: fc.constantFrom(0, 0, 5000),
}).map(({ base, problems, registry, skew }) => ({
  ...base, time: NOW + skew, problems, registry_cluster_id: registry, disk: null,
  redis: { ok: problems.length === 0, aof_enabled: true, maxmemory_policy: 'noeviction', error: null },
}))

const gitAnswer: fc.Arbitrary<GitAnswer> = fc.oneof(
  fc.record({ state: fc.constantFrom('up-to-date' as const, 'fast-forwarded' as const), head: fc.constantFrom('c1 main', 'c1 main', 'c2 next'), detail: fc.constant('') }),
  fc.constant({ state: 'not-configured' as const, head: null, detail: 'ops.gitDir is not set on this node' }),
  fc.constant({ state: 'conflict' as const, head: 'c9 local', detail: 'diverged: 1 local and 1 upstream commits' }),
  fc.constant({ state: 'ahead' as const, head: 'c3 local', detail: '1 local commit not upstream' }),
)
const digests: fc.Arbitrary<DigestsAnswer> = fc.record({
  files: fc.dictionary(fc.constantFrom('chain.yaml', 'p2p.yaml'), fc.constantFrom('d1', 'd1', 'd2', null)),
  registry: fc.constantFrom('r1', 'r1', 'r1', 'r2'),
})

const targetsArb = fc.shuffledSubarray(NAMES, { minLength: 1 })
const perNode = <T>(targets: string[], f: (n: string) => fc.Arbitrary<T>): fc.Arbitrary<Map<string, T>> =>
  fc.tuple(...targets.map((n) => f(n).map((v) => [n, v] as const))).map((e) => new Map(e))
/** Kinds no node is configured for are common: a quarter of the runs drop each kind's config everywhere. */
const unconfigured = fc.subarray([...SYNC_KINDS])

const syncFindings: fc.Arbitrary<SyncFindings> = targetsArb.chain((targets) => fc.record({
  kinds: fc.oneof(fc.constant<SyncKind[]>([...SYNC_KINDS]), fc.subarray<SyncKind>([...SYNC_KINDS], { minLength: 1 })),
  force: fc.boolean(),
  status: perNode(targets, (n) => answer(liveStatus(n))),
  git: perNode(targets, () => answer(gitAnswer)),
  config: perNode(targets, () => answer(digests)),
  off: unconfigured,
  refused: fc.subarray(targets),
  notes: fc.subarray(['chain.yaml copied from genesis to follower; the old one is chain.yaml.aitbc-backup-1']),
}).map((g): SyncFindings => {
  const status = new Map(g.status)
  const git = new Map(g.git)
  const config = new Map(g.config)
  if (g.off.includes('blockchain') || g.off.includes('mempool')) {
    for (const [n, r] of status) if (r.ok) status.set(n, { ...r, value: { ...r.value, chain: null, chain_error: null } })
  }
  if (g.off.includes('git')) for (const n of targets) git.set(n, { ok: true, ms: 1, value: { state: 'not-configured', head: null, detail: 'ops.gitDir is not set on this node' } })
  if (g.off.includes('configuration')) for (const n of targets) config.set(n, { ok: true, ms: 1, value: { files: {}, registry: 'r1' } })
  const actionIssues: SyncFindings['actionIssues'] = g.force && g.refused.length > 0
    ? { blockchain: g.refused.map((node) => ({ node, step: 'verify-git', error: 'diverged', suggestion: `fix git on ${node} before forcing a restart` })) }
    : {}
  return { target: targets.length === 1 ? targets[0]! : 'all', targets, kinds: g.kinds, force: g.force, status, git, config, actionIssues, notes: g.notes }
}))

const statusFindings = fc.constantFrom('status' as const, 'health' as const).chain((operation) => targetsArb.chain((targets) =>
  fc.record({
    answers: perNode<TargetResult<LiveStatus | LiveHealth>>(targets, (n) => answer<LiveStatus | LiveHealth>(operation === 'health' ? liveHealth(n) : liveStatus(n))),
    sshFor: fc.subarray(targets),
  }).map(({ answers, sshFor }) => ({
    operation, target: 'all', targets, answers, now: NOW,
    ssh: new Map(sshFor.filter((n) => answers.get(n)?.ok !== true).map((n): [string, OpIssue] =>
      [n, { node: n, step: 'ssh', error: 'over SSH: aitbc-node is inactive', suggestion: `start it: aitbc-node status --target ${n} --force` }])),
  }))))

const names = (text: string, node: string): boolean => new RegExp(`\\b${node}\\b`).test(text)

/** Collects what a report gets wrong; fast-check shrinks to the smallest node states that show it. */
class Check {
  readonly wrong: string[] = []
  ok(cond: unknown, what: string): void {
    if (!cond) this.wrong.push(what)
  }

  notOk(cond: unknown, what: string): void {
    this.ok(!cond, what)
  }

  equal(a: unknown, b: unknown, what: string): void {
    this.ok(Object.is(a, b), `${what} (${JSON.stringify(a)} vs ${JSON.stringify(b)})`)
  }

  same(a: unknown, b: unknown, what: string): void {
    this.ok(JSON.stringify(a) === JSON.stringify(b), `${what} (${JSON.stringify(a)} vs ${JSON.stringify(b)})`)
  }

  done(r: OpReport): void {
    if (this.wrong.length > 0) throw new Error(`${this.wrong.join('\n')}\nreport: ${JSON.stringify(r)}`)
  }
}

/** What every report must satisfy, whatever the operation. */
function checkCommon(t: Check, r: OpReport, targets: string[], answered: (n: string) => boolean): void {
  t.same(Object.keys(r.nodes_status).sort(), [...targets].sort(), 'nodes_status has every target, nothing else')
  const hit = new Set(r.issues.map((i) => i.node))
  const expected = r.issues.length === 0 ? 'success' : targets.every((n) => hit.has(n)) ? 'failed' : 'partial'
  t.equal(r.validation_status, expected, 'validation_status follows the issues')
  const shown = Object.values(r.nodes_status).filter((l) => l.status !== 'offline').length
  t.equal(r.confidence, Math.round((shown / targets.length) * 100) / 100, 'confidence is the share of targets that answered')
  for (const n of targets) {
    const line = r.nodes_status[n]!
    t.equal(line.status === 'offline', !answered(n), `${n} is offline exactly when it did not answer`)
    if (line.status === 'offline') {
      t.same([line.block_height, line.mempool_size, line.p2p_connections, line.service_uptime], [null, null, null, null], `nothing is claimed for offline ${n}`)
      t.ok(hit.has(n), `offline ${n} has an issue`)
      t.ok(r.recommendations.some((x) => names(x, n) && /bring .* back/.test(x)), `offline ${n}: bring it back`)
      t.notOk(r.recommendations.some((x) => names(x, n) && /run sync/.test(x)), `offline ${n} is never told to sync`)
    }
    if (line.status === 'degraded') t.ok(hit.has(n), `degraded ${n} has an issue`)
  }
  const fine = r.recommendations.some((x) => /operating normally|fully synchronized/.test(x))
  t.equal(fine, r.issues.length === 0, 'an all-is-well recommendation exactly when there is no issue')
}

const heightsOf = (r: OpReport) => Object.values(r.nodes_status).filter((l) => l.status !== 'offline' && l.block_height !== null).map((l) => l.block_height!)

t.test('no status or health report contradicts itself', async (t) => {
  fc.assert(fc.property(statusFindings, (f) => {
    const r = statusReport(f)
    const sub = new Check()
    checkCommon(sub, r, f.targets, (n) => f.answers.get(n)?.ok === true)
    const lines = Object.entries(r.nodes_status)
    const count = (s: string) => lines.filter(([, l]) => l.status === s).length
    const m = /^(\d+) of (\d+) nodes (online|healthy)/.exec(r.summary)
    sub.ok(m !== null && Number(m[1]) === count('online') && Number(m[2]) === f.targets.length, `summary counts the online lines: ${r.summary}`)
    sub.equal(/did not answer/.test(r.summary), count('offline') > 0, 'summary names silent nodes exactly when the table has offline ones')
    sub.equal(/degraded/.test(r.summary), count('degraded') > 0, 'summary names degraded nodes exactly when the table has some')
    for (const [n, l] of lines) if (l.status === 'online') sub.notOk(r.issues.some((i) => i.node === n), `online ${n} has no issue`)
    const heights = heightsOf(r)
    const differ = heights.length > 1 && Math.max(...heights) !== Math.min(...heights)
    sub.equal(r.recommendations.some((x) => /run sync --type blockchain/.test(x)), differ, 'sync is recommended exactly when the shown heights differ')
    for (const [n, l] of lines) {
      const a = f.answers.get(n)
      if (a?.ok === true && a.value.chain_error === null) sub.equal(l.block_height, a.value.chain?.height ?? null, `${n}'s height is the one it answered`)
    }
    sub.done(r)
  }), { numRuns: 400 })
  t.pass('400 generated status and health reports agree with themselves')
})

t.test('no sync report contradicts itself', async (t) => {
  fc.assert(fc.property(syncFindings, (f) => {
    const r = syncReport(f)
    const sub = new Check()
    checkCommon(sub, r, f.targets, (n) => f.status.get(n)?.ok === true)
    const kinds = r.sync_details.kinds ?? {}
    sub.same(Object.keys(kinds).sort(), [...f.kinds].sort(), 'a state for every requested kind')
    const flag: Record<SyncKind, boolean> = {
      git: r.sync_details.git_synced, blockchain: r.sync_details.blockchain_synced,
      mempool: r.sync_details.mempool_synced, configuration: r.sync_details.configuration_synced,
    }
    for (const k of SYNC_KINDS) sub.equal(flag[k], kinds[k]?.state === 'synced', `${k}_synced agrees with its state`)
    const considered = f.kinds.filter((k) => kinds[k]!.state !== 'not_configured')
    const synced = considered.filter((k) => kinds[k]!.state === 'synced')
    const result = considered.length > 0 && synced.length === considered.length ? 'success' : synced.length === 0 ? 'failed' : 'partial'
    sub.equal(r.sync_result, result, 'sync_result follows the configured kinds')
    if (r.validation_status === 'success') sub.equal(r.sync_result, 'success', 'a validated sync is a successful one')
    if (r.sync_result === 'success') {
      sub.ok(r.issues.every((i) => i.step === 'chain'), 'a successful sync has no issue but a degraded chain service')
    }
    const degraded = Object.values(r.nodes_status).filter((l) => l.status === 'degraded').length
    const silent = Object.values(r.nodes_status).filter((l) => l.status === 'offline').length
    sub.equal(/\d+ degraded/.test(r.summary), degraded > 0, 'the summary counts degraded nodes when the table has some')
    sub.equal(/did not answer/.test(r.summary), silent > 0, 'the summary counts silent nodes when the table has some')
    sub.equal(/all in sync/.test(r.summary), r.sync_result === 'success', `"all in sync" exactly on success: ${r.summary}`)
    for (const k of f.kinds) {
      const s = kinds[k]!
      if (s.state !== 'not_configured') {
        sub.equal(s.config_key, null, `${k}: no config key when configured`)
        continue
      }
      sub.equal(s.config_key, KIND_CONFIG_KEY[k], `${k}: not configured names its key`)
      sub.ok(r.summary.includes(k) && r.summary.includes(KIND_CONFIG_KEY[k]), `the summary says ${k} is not configured`)
      if (considered.length > 0) {
        sub.ok(r.recommendations.some((x) => x.includes(KIND_CONFIG_KEY[k])), `${k}: a recommendation names ${KIND_CONFIG_KEY[k]}`)
        sub.notOk(r.issues.some((i) => i.step === k), `${k}: not configured is not an issue`)
      }
    }
    const lines = Object.values(r.nodes_status)
    if (r.sync_details.blockchain_synced) {
      sub.ok(lines.every((l) => l.status !== 'offline' && l.block_height !== null), 'blockchain in sync: every height shown')
      sub.equal(new Set(lines.map((l) => l.block_height)).size, 1, 'blockchain in sync: one height')
    }
    if (r.sync_details.mempool_synced) sub.equal(new Set(lines.map((l) => l.mempool_size)).size, 1, 'mempool in sync: one size')
    const heights = heightsOf(r)
    for (const rec of r.recommendations.filter((x) => /--force to restart the chain service on/.test(x))) {
      for (const n of f.targets.filter((x) => names(rec.split(' on ').at(-1)!, x))) {
        const h = r.nodes_status[n]!.block_height
        sub.ok(h !== null && h < Math.max(...heights), `${n} is told to restart only when its shown height is below another`)
      }
    }
    for (const n of f.targets) {
      const a = f.status.get(n)
      if (a?.ok === true && a.value.chain_error === null) sub.equal(r.nodes_status[n]!.block_height, a.value.chain?.height ?? null, `${n}: the verified height`)
    }
    sub.done(r)
  }), { numRuns: 600 })
  t.pass('600 generated sync reports agree with themselves')
})

t.test('the cases of issue 28', async (t) => {
  const ok = <T>(value: T): TargetResult<T> => ({ ok: true, value, ms: 1 })
  const status = (node: string, height: number): TargetResult<LiveStatus> => ok({
    node, version: '1', uptime_s: 60, chain: { height, hash: '0xa', mempool_size: 1 }, chain_error: null, last_sync: 1, git_head: null, p2p_connections: 2, time: NOW,
  })
  const targets = ['genesis', 'follower', 'aitbc1']
  const notConfigured = ok({ state: 'not-configured' as const, head: null, detail: 'ops.gitDir is not set on this node' })
  const all = syncReport({
    target: 'all', targets, kinds: [...SYNC_KINDS], force: false, actionIssues: {}, notes: [],
    status: new Map(targets.map((n) => [n, status(n, 122)])),
    git: new Map(targets.map((n) => [n, notConfigured])),
    config: new Map(targets.map((n) => [n, ok({ files: { 'chain.yaml': 'd1' }, registry: 'r1' })])),
  })
  t.match(all, {
    sync_result: 'success', validation_status: 'success', issues: [],
    sync_details: { blockchain_synced: true, mempool_synced: true, configuration_synced: true, git_synced: false, kinds: { git: { state: 'not_configured', config_key: 'ops.gitDir' } } },
    summary: 'blockchain, mempool, configuration sync: all in sync across 3 nodes; git not configured (set ops.gitDir)',
  }, 'sync --type all without ops.gitDir: three kinds synced, git not configured, not failed')

  const offline = new Map<string, TargetResult<LiveStatus>>([
    ['genesis', status('genesis', 122)], ['follower', status('follower', 122)],
    ['aitbc1', { ok: false, error: Object.assign(new Error('peer unreachable'), { code: 'ERR_PEER_UNREACHABLE' }), timedOut: false, ms: 1 }],
  ])
  const st = statusReport({ operation: 'status', target: 'all', targets, answers: offline, ssh: new Map(), now: NOW })
  t.notOk(st.recommendations.some((x) => /sync/.test(x)), 'an offline node is not a reason to sync')
  t.match(st.recommendations, [/^bring aitbc1 back/])
  t.match(st, { nodes_status: { aitbc1: { status: 'offline', block_height: null } }, summary: '2 of 3 nodes online, 1 did not answer' })
})
