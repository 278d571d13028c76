import type { Connection } from '@libp2p/interface'
import { pino } from 'pino'
import t from 'tap'
import { PeerAdmission } from '../../src/p2p/peer-admission.js'
import type { Refusal } from '../../src/p2p/name-bindings.js'
import { waitFor } from '../fixtures/poll.js'

// In-process: who may stay connected, with the name bindings as a map the test fills and
// connections as records of their aborts. libp2p's side is tested in security.test and outsider.test.
function setup(o: { refuseForMs?: number, unknownPeerGraceMs?: number, recheck?: () => Promise<string | null> } = {}) {
  const names = new Map<string, string>()
  const aborted: string[] = []
  const open = new Set<string>()
  const gone: string[] = []
  const refusals: Refusal[] = []
  const admission = new PeerAdmission({
    bindings: {
      nameOf: (peerId) => names.get(peerId) ?? null,
      nameOfRechecked: (peerId) => (o.recheck ?? (() => Promise.resolve(names.get(peerId) ?? null)))(),
    },
    configured: ['beta'],
    connectionsOf: (peerId) => (open.has(peerId)
      ? [{
          abort: () => {
            aborted.push(peerId)
            open.delete(peerId)
          },
        } as unknown as Connection]
      : []),
    running: () => true,
    onMemberGone: (name) => gone.push(name),
    log: pino({ level: 'silent' }),
    onRefused: (r) => refusals.push(r),
    refuseForMs: o.refuseForMs ?? 60_000,
    unknownPeerGraceMs: o.unknownPeerGraceMs,
  })
  return { admission, names, aborted, open, gone, refusals }
}

const unknown = (peerId: string): Refusal => ({ reason: 'unknown_peer', name: null, peerId, message: 'no member' })

t.test('a member is a bound peer or the one that answered at a configured address; the newest answer wins', async (t) => {
  const { admission, names } = setup()
  t.notOk(admission.isMember('p1'))
  names.set('p1', 'gamma')
  t.ok(admission.isMember('p1'), 'bound here')
  admission.dialledAt('beta', 'p2')
  t.ok(admission.isMember('p2'), 'answered at beta\'s address')
  admission.dialledAt('beta', 'p3')
  t.notOk(admission.isMember('p2'), 'another peer now answers there: the old one is no member')
  t.ok(admission.isMember('p3'))
})

t.test('a false claim keeps the peer out for refuseForMs, even once its name is bound, and disconnects it', async (t) => {
  const { admission, names, open, aborted } = setup({ refuseForMs: 200 })
  open.add('liar')
  admission.dialledAt('beta', 'liar')
  admission.shut('liar')
  t.same(aborted, ['liar'], 'its connections are closed')
  t.notOk(admission.isMember('liar'), 'no longer the dialled peer')
  names.set('liar', 'gamma')
  t.ok(admission.isRefused('liar'), 'a bound name does not forgive a false claim')
  admission.shut('liar', true)
  t.ok(admission.isRefused('liar'), 'nor does a later "unknown" refusal')
  await waitFor('refuseForMs passed', () => !admission.isRefused('liar'), { timeoutMs: 10_000 })
  t.pass('let in again after refuseForMs')
})

t.test('a peer kept out for being unknown is let in as soon as its name is bound here', async (t) => {
  const { admission, names } = setup()
  admission.shut('early', true)
  t.ok(admission.isRefused('early'))
  names.set('early', 'gamma')
  t.notOk(admission.isRefused('early'), 'its pin reached this node after its call did')
})

t.test('an unknown caller is kept out unless the store, read again, names it', async (t) => {
  const late = setup({ recheck: () => Promise.resolve('gamma') })
  late.admission.shutUnlessMember(unknown('p-late'))
  await new Promise((r) => setImmediate(r))
  t.notOk(late.admission.isRefused('p-late'), 'a member whose pin this node had not seen: not kept out')
  t.same(late.refusals, [], 'and not counted as a refusal')

  const stranger = setup({ recheck: () => Promise.resolve(null) })
  stranger.open.add('p-x')
  stranger.admission.shutUnlessMember(unknown('p-x'))
  await waitFor('kept out', () => stranger.admission.isRefused('p-x'))
  t.same(stranger.aborted, ['p-x'], 'disconnected')
  t.equal(stranger.refusals.length, 1, 'counted once')

  const storeDown = setup({ recheck: () => Promise.reject(new Error('redis down')) })
  storeDown.open.add('p-y')
  storeDown.admission.shutUnlessMember(unknown('p-y'))
  await waitFor('kept out when the store cannot be read', () => storeDown.admission.isRefused('p-y'))
  t.same(storeDown.aborted, ['p-y'], 'and disconnected')
  t.equal(storeDown.refusals.length, 1, 'and counted')
})

t.test('the refusals kept are bounded: the oldest go first', async (t) => {
  const { admission } = setup()
  for (let i = 0; i < 10_001; i++) admission.shut(`p${i}`)
  t.notOk(admission.isRefused('p0'), 'the oldest was dropped')
  t.ok(admission.isRefused('p1'))
  t.ok(admission.isRefused('p10000'))
})

t.test('a connected peer that never proves a name is disconnected after the grace; a named one stays', async (t) => {
  const { admission, names, open, aborted } = setup({ unknownPeerGraceMs: 50 })
  open.add('anon')
  open.add('named')
  admission.connected('anon')
  admission.connected('named')
  names.set('named', 'gamma')
  await waitFor('the anonymous peer disconnected', () => aborted.includes('anon'))
  await new Promise((r) => setTimeout(r, 100))
  t.same(aborted, ['anon'], 'the named one kept its connection')
})

t.test('a lost connection is a member gone only for a member this node does not redial', async (t) => {
  const { admission, names, gone } = setup()
  names.set('pb', 'beta')
  names.set('pg', 'gamma')
  admission.disconnected('pb')
  admission.disconnected('pg')
  admission.disconnected('stranger')
  t.same(gone, ['gamma'], 'beta is configured (redialled); a stranger is nobody')
})
