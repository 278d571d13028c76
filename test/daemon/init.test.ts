import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { BIN, startDaemon } from '../fixtures/daemon.js'
import { freePort } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const dir = mkdtempSync(join(tmpdir(), 'aitbc-init-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const init = (name: string) => execFileSync(process.execPath, [
  BIN, 'init', '--dir', join(dir, 'etc'), '--data-dir', join(dir, name), '--name', name, '--address', '10.0.0.1', '--user', 'no-such-user',
], { encoding: 'utf8' })

t.test('init writes a key, a token, a config using both, an SSH key, and prints the peers entry', async (t) => {
  const out = init('genesis')
  const peerId = /peer id (12D3KooW\w+)/.exec(out)?.[1]
  t.ok(peerId, 'prints the peer id')
  t.match(out, `- { name: genesis, address: "10.0.0.1:7070", peerId: ${peerId} }`, 'the p2p.peers entry to paste')
  t.match(out, `genesis=10.0.0.1:7070@${peerId}`, 'the AITBC_PEERS form')
  for (const f of ['swarm.key', 'tokens.yaml', 'aitbc-node.yaml', 'ssh/id_ed25519']) {
    t.equal(statSync(join(dir, 'etc', f)).mode & 0o777, 0o600, `${f} is mode 0600`)
  }
  const checked = JSON.parse(execFileSync(process.execPath, [BIN, 'config', 'check', '-c', join(dir, 'etc', 'aitbc-node.yaml')], { encoding: 'utf8' })) as { config: { p2p: { pskFile: string }, auth: { tokens: unknown[] } } }
  t.equal(checked.config.p2p.pskFile, join(dir, 'etc', 'swarm.key'))
  t.equal(checked.config.auth.tokens.length, 1, 'the admin token is read from tokens.yaml')

  // A second node of the same cluster: init keeps the shared files and makes its own node key.
  const key = readFileSync(join(dir, 'etc', 'swarm.key'), 'utf8')
  const again = init('follower')
  t.match(again, /kept .*swarm\.key/)
  t.equal(readFileSync(join(dir, 'etc', 'swarm.key'), 'utf8'), key, 'the swarm key is kept')
  t.not(/peer id (12D3KooW\w+)/.exec(again)?.[1], peerId, 'its own peer id')
})

t.test('a daemon started from the written config runs a PSK mesh on 0.0.0.0 with token auth', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const token = /admin token \(for AITBC_TOKEN or --token\): (\S+)/.exec(readFileSync(join(dir, 'etc', 'tokens.yaml'), 'utf8') + init('node3'))
  const d = await startDaemon({
    dataDir: join(dir, 'genesis'),
    args: ['-c', join(dir, 'etc', 'aitbc-node.yaml'), '--redis-url', redis.url, '--set', `p2p.listen=/ip4/0.0.0.0/tcp/${await freePort()}`],
  })
  t.teardown(() => d.stop())
  t.match(d.logs.find((l) => l.msg === 'daemon ready'), { meshSecurity: 'psk', node: 'genesis' })
  t.equal(token, null, 'a third init prints no new token: tokens.yaml was kept')
  const tokens = readFileSync(join(dir, 'etc', 'tokens.yaml'), 'utf8')
  const admin = /token: (\S+)/.exec(tokens)![1]!
  t.equal((await fetch(`${d.url}/nodes`, { headers: { authorization: `Bearer ${admin}` } })).status, 200, 'the token from tokens.yaml works')
})
