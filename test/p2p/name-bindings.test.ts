import { Redis } from 'ioredis'
import { pino } from 'pino'
import t from 'tap'
import { RedisBindingStore, redisKeys } from '../../src/coordinator/index.js'
import { NameBindings, type Refusal } from '../../src/p2p/index.js'
import { startRedis } from '../fixtures/redis-server.js'

const server = await startRedis()
t.teardown(() => server.stop())
const redis = new Redis(server.url)
t.teardown(() => redis.disconnect())

let n = 0
function bindings(
  self: string, selfPeerId: string, configured: { name: string, peerId?: string }[], prefix: string, rereadGapMs = 0,
) {
  const refused: Refusal[] = []
  const b = new NameBindings({
    selfName: self, selfPeerId, configured, store: new RedisBindingStore(redis, redisKeys(prefix)),
    log: pino({ level: 'silent' }), onRefused: (r) => refused.push(r), rereadGapMs,
  })
  return { b, refused }
}

t.test('a configured name without a peer id is pinned by its first claimant, cluster-wide, and never silently rebound', async (t) => {
  const prefix = `nb${n++}:`
  const g = bindings('genesis', 'P-genesis', [{ name: 'follower' }], prefix)
  await g.b.start()
  t.teardown(() => g.b.stop())
  t.same(await g.b.admit('follower', 'P-follower'), { ok: true }, 'first sight pins')
  t.equal(await redis.hget(redisKeys(prefix).nodeBindings, 'follower'), 'P-follower', 'the pin is in the shared registry')
  t.equal(g.b.nameOf('P-follower'), 'follower')
  const stolen = await g.b.admit('follower', 'P-thief')
  t.match(stolen, { ok: false, refusal: { reason: 'name_taken', message: /P-thief.*follower.*P-follower/ } })
  t.match(g.b.conflictOf('follower'), /P-thief/)
  // Another daemon that does not configure follower still knows it: the pin is shared.
  const o = bindings('node3', 'P-node3', [], prefix)
  await o.b.start()
  t.teardown(() => o.b.stop())
  t.ok(o.b.isKnown('follower'))
  t.same(await o.b.admit('follower', 'P-follower'), { ok: true })
  t.match(await o.b.admit('follower', 'P-thief'), { ok: false, refusal: { reason: 'name_taken' } })
})

t.test('unknown names, own name, one peer with two names, and configured ids are refused', async (t) => {
  const prefix = `nb${n++}:`
  const g = bindings('genesis', 'P-genesis', [{ name: 'follower', peerId: 'P-follower' }, { name: 'aitbc1' }], prefix)
  await g.b.start()
  t.teardown(() => g.b.stop())
  t.match(await g.b.admit('invented', 'P-x'), { ok: false, refusal: { reason: 'unknown_name' } })
  t.match(await g.b.admit('genesis', 'P-x'), { ok: false, refusal: { reason: 'name_taken', message: /this node/ } })
  t.match(await g.b.admit('follower', 'P-x'), { ok: false, refusal: { reason: 'name_taken', message: /configured as P-follower/ } })
  t.same(await g.b.admit('aitbc1', 'P-aitbc1'), { ok: true })
  t.match(await g.b.admit('aitbc1', 'P-follower'), { ok: false }, 'a configured peer id cannot take a second name')
  t.equal(await redis.hlen(redisKeys(prefix).nodeBindings), 2, 'only genesis (self) and aitbc1 pinned; nothing for the refused claims')
})

t.test('forget unpins a rebuilt node: the next claimant is pinned; another daemon sees it without a restart', async (t) => {
  const prefix = `nb${n++}:`
  const a = bindings('genesis', 'P-genesis', [{ name: 'follower' }], prefix)
  const b = bindings('node3', 'P-node3', [{ name: 'follower' }], prefix)
  await a.b.start()
  await b.b.start()
  t.teardown(() => {
    a.b.stop()
    b.b.stop()
  })
  t.same(await a.b.admit('follower', 'P-old'), { ok: true })
  t.same(await b.b.admit('follower', 'P-old'), { ok: true })
  t.equal(a.b.nameOf('P-old'), 'follower')
  t.equal(await a.b.forget('follower'), true)
  t.equal(a.b.nameOf('P-old'), null, 'a forgotten pin no longer names its peer')
  t.equal(b.b.nameOf('P-old'), 'follower', 'the other daemon still has its copy until it reads the registry again')
  t.same(await b.b.admit('follower', 'P-new'), { ok: true }, 'the other daemon re-reads the registry on a refused claim')
  t.equal(b.b.nameOf('P-new'), 'follower')
  t.equal(b.b.nameOf('P-old'), null, 'and its copy follows the registry')
  t.same(await a.b.admit('follower', 'P-new'), { ok: true })
  t.match(await a.b.admit('follower', 'P-old'), { ok: false }, 'the old key is now the stranger')
  t.equal(a.b.nameOf('P-new'), 'follower')
})

t.test('a node whose own name is pinned to another id says so', async (t) => {
  const prefix = `nb${n++}:`
  await redis.hset(redisKeys(prefix).nodeBindings, 'genesis', 'P-previous')
  const g = bindings('genesis', 'P-rebuilt', [], prefix)
  await g.b.start()
  t.teardown(() => g.b.stop())
  t.match(g.b.selfConflict, /pinned to peer P-previous.*nodes forget genesis/)
  await g.b.forget('genesis')
  t.equal(g.b.selfConflict, null, 'forget re-pins this node to its own id')
  t.equal(await redis.hget(redisKeys(prefix).nodeBindings, 'genesis'), 'P-rebuilt')
})

t.test('a node that pinned itself just after the seed read the pins is admitted, not refused (nodes starting together)', async (t) => {
  const prefix = `nb${n++}:`
  const seed = bindings('seed', 'P-seed', [], prefix, 60_000)
  await seed.b.start()
  t.teardown(() => seed.b.stop())
  t.match(await seed.b.admit('nobody', 'P-x'), { ok: false, refusal: { reason: 'unknown_name' } }, 'an unknown name is refused')
  // The leaf starts: it pins its own name, then speaks, all within the seed's normal reread gap.
  const leaf = bindings('leaf', 'P-leaf', [{ name: 'seed' }], prefix)
  await leaf.b.start()
  t.teardown(() => leaf.b.stop())
  // Unknown names are looked up at most every 50 ms (each costs a read): let that much pass.
  await new Promise((r) => setTimeout(r, 60))
  t.same(await seed.b.admit('leaf', 'P-leaf'), { ok: true }, 'admitted: the unknown name was looked up again')
  t.equal(seed.b.nameOf('P-leaf'), 'leaf')
})
