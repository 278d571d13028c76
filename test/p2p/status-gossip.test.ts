import t from 'tap'
import { publishDue, statusKeepalive } from '../../src/p2p/status-gossip.js'

// In-process: which keepalive an unchanged status waits for.
const served = (...names: string[]): ReadonlySet<string> => new Set(names)

t.test('connected to every member it knows, each sent its status: the slow keepalive, since each of them pings it', async (t) => {
  t.equal(statusKeepalive(3000, 30_000, ['beta', 'gamma'], ['beta', 'gamma'], served('beta', 'gamma')), 30_000)
  t.equal(statusKeepalive(3000, 30_000, [], [], served()), 30_000, 'alone: nobody waits for its status')
})

t.test('a member without a connection to it hears of it only through gossip: the short keepalive', async (t) => {
  t.equal(statusKeepalive(3000, 30_000, ['beta', 'gamma'], ['beta'], served('beta')), 3000)
  t.equal(statusKeepalive(3000, 30_000, ['beta'], [], served()), 3000, 'no connection at all')
  t.equal(statusKeepalive(3000, 30_000, ['beta', 'gamma'], ['beta'], served('beta'), new Set(['gamma'])), 30_000,
    'a member offline here (down, or never started) does not hold this node at the short pace')
  t.equal(statusKeepalive(3000, 30_000, ['beta', 'gamma'], ['beta'], served('beta'), new Set(['delta'])), 3000,
    'only the members offline here are left out')
})

t.test('a linked node that has not yet been sent our status keeps the short keepalive', async (t) => {
  t.equal(statusKeepalive(3000, 30_000, ['beta'], ['beta'], served()), 3000, 'a member just connected')
  t.equal(statusKeepalive(3000, 30_000, [], ['beta'], served()), 3000, 'a node we know by name whose status we have not heard: it may not know us')
  t.equal(statusKeepalive(3000, 30_000, ['beta'], ['beta', 'stranger'], served('beta')), 3000, 'a linked node outside the view must be sent it too')
  t.equal(statusKeepalive(3000, 30_000, ['beta'], ['beta', 'stranger'], served('beta', 'stranger')), 30_000)
})

t.test('a linked keepalive not longer than the short one is the short one', async (t) => {
  t.equal(statusKeepalive(3000, 1000, ['beta'], ['beta'], served('beta')), 3000)
})

t.test('a change is published at once, but a change of links alone waits for the short keepalive', async (t) => {
  const at = (sinceMs: number, changed: boolean, changedBeyondLinks: boolean, keepaliveMs = 30_000): boolean =>
    publishDue({ sinceMs, keepaliveMs, shortKeepaliveMs: 3000, intervalMs: 1000, changed, changedBeyondLinks })
  t.equal(at(100, true, true), true, 'a new problem, a lost member, a chain height: at once')
  t.equal(at(100, true, false), false, 'a connection made 100 ms after the last publish: not yet')
  t.equal(at(2400, true, false), false, 'nor at 2.4 s')
  t.equal(at(2500, true, false), true, 'at the short keepalive (less half an interval)')
  t.equal(at(2500, false, false), false, 'nothing changed: the linked keepalive in force decides')
  t.equal(at(29_500, false, false), true)
  t.equal(at(2500, false, false, 3000), true, 'unlinked: the short keepalive is the one in force')
})
