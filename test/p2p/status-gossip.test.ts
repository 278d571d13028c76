import t from 'tap'
import { statusKeepalive } from '../../src/p2p/status-gossip.js'

// In-process: which keepalive an unchanged status waits for.
t.test('connected to every member it knows: the slow keepalive, since each of them pings it', async (t) => {
  t.equal(statusKeepalive(3000, 30_000, ['beta', 'gamma'], ['beta', 'gamma']), 30_000)
  t.equal(statusKeepalive(3000, 30_000, [], []), 30_000, 'alone: nobody waits for its status')
  t.equal(statusKeepalive(3000, 30_000, ['beta'], ['beta', 'stranger']), 30_000, 'a link to a node it does not know changes nothing')
})

t.test('a member without a connection to it hears of it only through gossip: the short keepalive', async (t) => {
  t.equal(statusKeepalive(3000, 30_000, ['beta', 'gamma'], ['beta']), 3000)
  t.equal(statusKeepalive(3000, 30_000, ['beta'], []), 3000, 'no connection at all')
})

t.test('a linked keepalive not longer than the short one is the short one', async (t) => {
  t.equal(statusKeepalive(3000, 1000, ['beta'], ['beta']), 3000)
})
