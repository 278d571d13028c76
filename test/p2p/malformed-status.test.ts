import { pino } from 'pino'
import t from 'tap'
import { STATUS_TOPIC } from '../../src/p2p/index.js'
import { MalformedStatuses } from '../../src/p2p/malformed-statuses.js'
import { readPskFile } from '../../src/p2p/psk.js'
import { meshTestBed, startTestMesh } from '../fixtures/mesh.js'
import { floodMalformedStatuses, newIdentity, startOutsider } from '../fixtures/outsider.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { writePskFile } from '../fixtures/psk.js'

const { client, dir } = await meshTestBed(t, 'malformed')
const psk = readPskFile(writePskFile())

t.test('a member with the PSK flooding malformed statuses is disconnected, with a few warning lines', async (t) => {
  // A plain libp2p peer with the key, configured by name and peer id: a member, so no grace period ends its connection.
  const rogueId = await newIdentity()
  const roguePort = await freePort()
  const rogue = await startOutsider({ key: rogueId.key, psk, listen: `/ip4/127.0.0.1/tcp/${roguePort}` })
  t.teardown(() => rogue.stop())
  const lines: { msg: string, level: number }[] = []
  const root = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string, level: number }) })
  const counted: Record<string, number> = {}
  let disconnectedAt = 0
  const count = (what: string) => () => {
    counted[what] = (counted[what] ?? 0) + 1
  }
  const mesh = await startTestMesh({
    name: 'genesis', dir, port: await freePort(), redis: client, prefix: 'malformed:', psk,
    peers: [{ name: 'rogue', address: `127.0.0.1:${roguePort}`, peerId: rogueId.peerId }],
    log: (component) => root.child({ component }),
    more: {
      onMalformedStatus: (kind) => count(kind)(),
      onMalformedDisconnect: () => {
        disconnectedAt = Date.now()
        count('disconnect')()
      },
      onWarningSuppressed: count('suppressed'),
    },
  })
  t.teardown(() => mesh.stop())
  const genesis = mesh.node.peerId
  await waitFor('the rogue to see genesis subscribed to status', () => rogue.services.pubsub.getSubscribers(STATUS_TOPIC).some((p) => p.equals(genesis)))

  const started = Date.now()
  const sent = await floodMalformedStatuses(rogue, rogueId.peerId, genesis, STATUS_TOPIC)
  await waitFor('the rogue to be disconnected', () => mesh.node.getConnections(rogue.peerId).length === 0, { timeoutMs: 15_000 })
  t.pass(`disconnected ${disconnectedAt - started} ms after the flood began (${sent} statuses sent in ${Date.now() - started} ms)`)

  const malformedLines = lines.filter((l) => /status gossip|malformed/.test(l.msg))
  t.ok(malformedLines.length <= 3, `${malformedLines.length} warning lines (one per kind, one for the disconnect): ${malformedLines.map((l) => l.msg).join(' | ')}`)
  t.equal(lines.filter((l) => /malformed statuses within .* disconnected/.test(l.msg)).length, 1, 'the disconnect is logged once')
  t.equal(counted.disconnect, 1, 'and counted')
  t.ok((counted.not_json ?? 0) + (counted.schema ?? 0) >= 50, `each malformed status counted by kind (${JSON.stringify(counted)})`)
  t.ok((counted.suppressed ?? 0) > 0, 'the warnings left out are counted')

  // Kept out for a while: it cannot come straight back.
  await rogue.dial(mesh.node.getMultiaddrs()[0]!).catch(() => undefined)
  await waitFor('no connection held', () => mesh.node.getConnections(rogue.peerId).length === 0)
  t.equal(mesh.node.getConnections(rogue.peerId).length, 0, 'a dial back is refused')
})

t.test('one warning per peer and kind per warnEveryMs, with the count left out; a new window after windowMs', async (t) => {
  const lines: { msg: string, suppressed?: number }[] = []
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string }) })
  const dropped: string[] = []
  const m = new MalformedStatuses({
    disconnectAfter: 6, windowMs: 300, warnEveryMs: 150, log, onTooMany: (id) => dropped.push(id),
  })
  for (let i = 0; i < 3; i++) m.record('peer-a', 'schema', {})
  m.record('peer-a', 'not_json', {})
  m.record('peer-b', 'schema', {})
  t.same(lines.map((l) => l.suppressed), [0, 0, 0], 'first of each kind and peer only')
  const since = Date.now()
  await waitFor('warnEveryMs to pass', () => Date.now() - since > 160)
  m.record('peer-a', 'schema', {})
  t.equal(lines.at(-1)!.suppressed, 2, 'the next line says how many were left out')
  t.match(lines.at(-1)!.msg, /2 more since the last line/)
  m.record('peer-a', 'schema', {})
  t.same(dropped, ['peer-a'], 'the sixth within the window disconnects')
  m.record('peer-a', 'schema', {})
  t.same(dropped, ['peer-a'], 'once')
  await waitFor('windowMs to pass', () => Date.now() - since > 320)
  for (let i = 0; i < 4; i++) m.record('peer-a', 'schema', {})
  t.same(dropped, ['peer-a'], 'a new window starts from zero')
})
