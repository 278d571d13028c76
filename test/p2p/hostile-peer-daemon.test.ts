import { connect } from 'node:net'
import t from 'tap'
import { STATUS_TOPIC } from '../../src/p2p/index.js'
import { readPskFile } from '../../src/p2p/psk.js'
import { startDaemon, type TestDaemon } from '../fixtures/daemon.js'
import { floodMalformedStatuses, newIdentity, startOutsider } from '../fixtures/outsider.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { writePskFile } from '../fixtures/psk.js'
import { startRedis } from '../fixtures/redis-server.js'

// A real daemon with a PSK, its bounds set lower than the defaults by config, and a member
// that is a plain libp2p peer holding the key: the config keys, the logs and the metrics.
const redis = await startRedis()
t.teardown(() => redis.stop())
const pskFile = writePskFile()
const psk = readPskFile(pskFile)
const rogueId = await newIdentity()
const roguePort = await freePort()
const rogue = await startOutsider({ key: rogueId.key, psk, listen: `/ip4/127.0.0.1/tcp/${roguePort}` })
t.teardown(() => rogue.stop())
const daemon = await startDaemon({
  args: [
    '--name', 'genesis', '--redis-url', redis.url, '--set', 'redis.prefix="hostile:"',
    '--peer', `rogue=/ip4/127.0.0.1/tcp/${roguePort}@${rogueId.peerId}`,
    '--set', `p2p.pskFile=${JSON.stringify(pskFile)}`,
    '--set', 'p2p.malformedStatuses.disconnectAfter=20',
    '--set', 'p2p.inbound.maxPendingPerHost=2',
  ],
})
t.teardown(() => daemon.stop())

async function metric(d: TestDaemon, name: string): Promise<number> {
  const text = await (await fetch(`${d.url}/metrics`)).text()
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'gm')
  return [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0)
}

t.test('2,000 malformed statuses from a member: disconnected, a few log lines, counted', async (t) => {
  await waitFor('the daemon subscribed to status, as seen by the rogue', () =>
    rogue.services.pubsub.getSubscribers(STATUS_TOPIC).some((p) => rogue.getConnections(p).length > 0), { timeoutMs: 15_000 })
  const genesis = rogue.services.pubsub.getSubscribers(STATUS_TOPIC)[0]!
  await floodMalformedStatuses(rogue, rogueId.peerId, genesis, STATUS_TOPIC)
  const patience = { timeoutMs: 20_000 }
  await waitFor('the daemon to disconnect the rogue', async () => await metric(daemon, 'aitbc_p2p_malformed_status_disconnects_total') === 1, patience)
  await waitFor('no connection between them', () => rogue.getConnections(genesis).length === 0, patience)
  const lines = daemon.logs.filter((l) => /status gossip|malformed/.test(l.msg ?? ''))
  t.ok(lines.length <= 3, `${lines.length} log lines about it: ${lines.map((l) => l.msg).join(' | ')}`)
  t.equal(lines.filter((l) => /sent 20 malformed statuses/.test(l.msg ?? '')).length, 1, 'the configured threshold, logged once')
  t.ok(await metric(daemon, 'aitbc_p2p_malformed_statuses_total') >= 20, 'each counted')
  t.ok(await metric(daemon, 'aitbc_p2p_warnings_suppressed_total') > 0, 'lines left out counted')
})

t.test('idle sockets from one host past p2p.inbound.maxPendingPerHost are refused and counted', async (t) => {
  const sockets = Array.from({ length: 5 }, () => {
    const s = connect({ host: '127.0.0.1', port: daemon.p2pPort, localAddress: '127.0.0.2' })
    s.on('error', () => {})
    return s
  })
  t.teardown(() => sockets.forEach((s) => s.destroy()))
  const refused = await waitFor('host_pending refusals', async () => await metric(daemon, 'aitbc_p2p_inbound_dropped_total') || false, { timeoutMs: 20_000 })
  t.ok(refused >= 1, `${refused} refused`)
})
