import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startDaemon } from '../fixtures/daemon.js'
import { freePort } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
t.teardown(() => redis.stop())

t.test('a PSK file that is not a swarm key stops the start with one line saying how to make one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aitbc-badpsk-'))
  const file = join(dir, 'swarm.key')
  writeFileSync(file, 'not a key\n')
  const d = await startDaemon({ args: ['--redis-url', redis.url], env: { AITBC_P2P_PSK_FILE: file }, waitReady: false })
  const exit = await d.exited
  t.equal(exit.code, 1)
  t.match(d.stderr(), new RegExp(`start failed: private network key ${file} is not a swarm key .*aitbc-node keygen psk > ${file}`))
  await d.stop()
})

t.test('a p2p port already in use stops the start naming the address', async (t) => {
  const port = await freePort()
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
  const d = await startDaemon({ args: ['--redis-url', redis.url], p2pPort: port, waitReady: false })
  const exit = await d.exited
  t.equal(exit.code, 1)
  t.match(d.stderr(), `start failed: p2p cannot listen on /ip4/127.0.0.1/tcp/${port}: the port is already in use`)
  await d.stop()
})

t.test('a bad allowlist entry is a config error naming the key', async (t) => {
  const d = await startDaemon({ args: ['--redis-url', redis.url, '--set', 'p2p.allowlist=["bob"]'], waitReady: false })
  const exit = await d.exited
  t.equal(exit.code, 2)
  t.match(d.stderr(), /p2p\.allowlist\.0.*expected a peer id/)
  await d.stop()
})

t.test('a mesh on 0.0.0.0 with neither PSK nor allowlist is refused, naming the three ways out', async (t) => {
  const port = await freePort()
  const d = await startDaemon({ args: ['--redis-url', redis.url, '--set', `p2p.listen=/ip4/0.0.0.0/tcp/${port}`], waitReady: false })
  const exit = await d.exited
  t.equal(exit.code, 1)
  t.match(d.stderr(), /refusing to open the mesh on \/ip4\/0\.0\.0\.0\/tcp\/\d+ .*p2p\.psk.*p2p\.allowlist.*p2p\.insecure: true/)
  t.equal(d.stderr().trim().split('\n').length, 1, 'one line')
  await d.stop()
})

t.test('each way out starts the daemon on 0.0.0.0, and the insecure one is logged', async (t) => {
  const { execFileSync } = await import('node:child_process')
  const { BIN } = await import('../fixtures/daemon.js')
  const { newIdentity } = await import('../fixtures/outsider.js')
  // The key `aitbc-node keygen psk` prints is one the daemon starts with.
  const pskFile = join(mkdtempSync(join(tmpdir(), 'aitbc-psk-')), 'swarm.key')
  writeFileSync(pskFile, execFileSync(process.execPath, [BIN, 'keygen', 'psk']), { mode: 0o600 })
  const ways: [string, string[], Record<string, string>][] = [
    ['psk', [], { AITBC_P2P_PSK_FILE: pskFile }],
    ['allowlist', ['--set', `p2p.allowlist=${JSON.stringify([(await newIdentity()).peerId])}`], {}],
    ['insecure', ['--set', 'p2p.insecure=true'], {}],
  ]
  for (const [way, args, env] of ways) {
    const port = await freePort()
    const d = await startDaemon({ args: ['--redis-url', redis.url, '--set', `p2p.listen=/ip4/0.0.0.0/tcp/${port}`, ...args], env })
    const ready = d.logs.find((l) => l.msg === 'daemon ready')
    t.equal(ready?.meshSecurity, way, `${way}: started, and says how the mesh is protected`)
    const warned = d.logs.some((l) => l.level === 40 && /p2p\.insecure: true/.test(String(l.msg)))
    t.equal(warned, way === 'insecure', `${way}: ${way === 'insecure' ? 'the insecure mode is logged as a warning' : 'no insecure warning'}`)
    await d.stop()
  }
})
