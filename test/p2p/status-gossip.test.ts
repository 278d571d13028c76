import t from 'tap'
import { statusKeepalive } from '../../src/p2p/status-gossip.js'

// In-process: which keepalive an unchanged status waits for.
const served = (...names: string[]): ReadonlySet<string> => new Set(names)

t.test('connected to every member it knows, each sent its status: the slow keepalive, since each of them pings it', async (t) => {
  t.equal(statusKeepalive(3000, 30_000, ['beta', 'gamma'], ['beta', 'gamma'], served('beta', 'gamma')), 30_000)
  t.equal(statusKeepalive(3000, 30_000, [], [], served()), 30_000, 'alone: nobody waits for its status')
})

t.test('a member without a connection to it hears of it only through gossip: the short keepalive', async (t) => {
  t.equal(statusKeepalive(3000, 30_000, ['beta', 'gamma'], ['beta'], served('beta')), 3000)
  t.equal(statusKeepalive(3000, 30_000, ['beta'], [], served()), 3000, 'no connection at all')
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
