import t from 'tap'
import { authorizeChange, type OpRecord } from '../../../src/ops/index.js'

const record = (over: Omit<Partial<OpRecord>, 'request'> & { request?: Partial<OpRecord['request']> } = {}): OpRecord => ({
  op_id: 'op-1',
  node: 'genesis',
  state: 'running',
  created_at: new Date().toISOString(),
  deadline_at: Date.now() + 60_000,
  finished_at: null,
  report: null,
  events: [],
  ...over,
  request: { operation: 'sync', target_node: 'all', sync_type: 'configuration', force: true, verify: true, ...over.request },
})
const caller = { name: 'genesis', peerId: '12D3KooWgenesis', opId: 'op-1' }
interface CheckOptions {
  name?: Parameters<typeof authorizeChange>[0]
  params?: unknown
  who?: typeof caller
  needsForce?: boolean
  self?: string
}
const check = (rec: OpRecord | null, opts: CheckOptions = {}) =>
  authorizeChange(opts.name ?? 'node.config.write', opts.params ?? { name: 'x', content_b64: '' }, opts.who ?? caller, {
    self: opts.self ?? 'follower', needsForce: opts.needsForce ?? true, findOp: async () => rec,
  })

t.test('a live forced configuration sync started by the caller may write a config file', async (t) => {
  t.equal((await check(record())).op_id, 'op-1')
})

t.test('each missing piece is refused, naming what is missing', async (t) => {
  const cases: [string, Promise<unknown>, RegExp][] = [
    ['no op id', check(record(), { who: { ...caller, opId: null as unknown as string } }), /no operation id/],
    ['unknown op', check(null), /not in the journal/],
    ['someone else\'s op', check(record({ node: 'follower' })), /started by follower, not by genesis/],
    ['finished op', check(record({ state: 'done' })), /is done/],
    ['another target', check(record({ request: { target_node: 'node3' } })), /targets node3, not follower/],
    ['another kind of sync', check(record({ request: { sync_type: 'git' } })), /not part of a sync git operation/],
    ['without force', check(record({ request: { force: false } })), /needs force/],
    ['an action of another coordinate', check(record({ request: { operation: 'coordinate', action: 'other', sync_type: undefined } }), { name: 'node.action', params: { name: 'mark' } }), /not part of a coordinate/],
  ]
  for (const [what, p, why] of cases) t.match(await p.catch((e: unknown) => e), { code: 'ERR_ACTION_FORBIDDEN', message: why }, what)
})

t.test('an operation past its deadline starts nothing, with its own code', async (t) => {
  t.match(await check(record({ deadline_at: Date.now() - 1 })).catch((e: unknown) => e), { code: 'ERR_ACTION_DEADLINE', message: /past its deadline/ })
})

t.test('a git check (apply: false) is part of a git sync or of a forced sync (which checks git first) only', async (t) => {
  const git = { name: 'node.git.sync' as const, params: { apply: false }, needsForce: false }
  t.ok(await check(record({ request: { sync_type: 'git', force: false } }), git))
  t.ok(await check(record({ request: { sync_type: 'configuration', force: true } }), git))
  t.ok(await check(record({ request: { sync_type: 'blockchain', force: true } }), git))
  for (const request of [{ sync_type: 'configuration' as const, force: false }, { sync_type: 'blockchain' as const, force: false }]) {
    t.match(await check(record({ request }), git).catch((e: unknown) => e), { code: 'ERR_ACTION_FORBIDDEN', message: /not part of a sync/ }, JSON.stringify(request))
  }
  t.match(await check(record({ request: { operation: 'status', force: true, sync_type: undefined } }), git).catch((e: unknown) => e),
    { code: 'ERR_ACTION_FORBIDDEN', message: /not part of a status/ }, 'a status operation, even forced')
  t.match(await check(record({ request: { sync_type: 'configuration', force: true } }), { ...git, params: { apply: true } }).catch((e: unknown) => e),
    { code: 'ERR_ACTION_FORBIDDEN' }, 'applying is not part of a configuration sync')
})

t.test('git apply needs a git (or all) sync, not force; a coordinate may run its own action', async (t) => {
  t.ok(await check(record({ request: { sync_type: 'git', force: false } }), { name: 'node.git.sync', params: { apply: true }, needsForce: false }))
  t.ok(await check(record({ request: { sync_type: 'all', force: false } }), { name: 'node.git.sync', params: { apply: true }, needsForce: false }))
  t.ok(await check(record({ request: { operation: 'coordinate', action: 'mark', force: false, sync_type: undefined } }), { name: 'node.action', params: { name: 'mark' }, needsForce: false }))
})
