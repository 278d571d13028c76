import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { startDaemon } from '../fixtures/daemon.js'
import { freePort } from '../fixtures/poll.js'
import { writePskFile } from '../fixtures/psk.js'
import { startRedis } from '../fixtures/redis-server.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const unit = join(root, 'config', 'aitbc-node.service')
const scratch = mkdtempSync(join(tmpdir(), 'aitbc-unit-'))
t.teardown(() => rmSync(scratch, { recursive: true, force: true }))

t.test('systemd-analyze verify accepts the unit, and its exposure is MEDIUM or better', async (t) => {
  t.doesNotThrow(() => execFileSync('systemd-analyze', ['verify', unit], { stdio: 'pipe' }), 'verify passes')
  const out = execFileSync('systemd-analyze', ['security', '--offline=true', unit], { encoding: 'utf8' })
  const level = /Overall exposure level for .*: ([\d.]+) (\w+)/.exec(out)
  t.comment(`exposure ${level?.[1]} ${level?.[2]}`)
  t.ok(Number(level?.[1]) < 7, `exposure ${level?.[1]} ${level?.[2]} is MEDIUM or better`)
  t.doesNotThrow(() => execFileSync('systemd-analyze', ['security', '--offline=true', '--threshold=69', unit], { stdio: 'pipe' }))
})

t.test('the unit runs node with the daemon\'s V8 settings', async (t) => {
  const { DAEMON_NODE_FLAGS } = await import('../../src/daemon/node-flags.js')
  const exec = /^ExecStart=(.*)$/m.exec(readFileSync(unit, 'utf8'))![1]!.split(/\s+/)
  t.same(exec.slice(0, 1 + DAEMON_NODE_FLAGS.length), ['/usr/bin/node', ...DAEMON_NODE_FLAGS], 'node, the flags, then the script')
  t.same(exec.slice(-2), ['/opt/aitbc-node/bin/aitbc-node.js', 'daemon'])
})

t.test('the agent template unit verifies as an instance', async (t) => {
  const instance = join(scratch, 'aitbc-agent@worker-1.service')
  const { copyFileSync } = await import('node:fs')
  copyFileSync(join(root, 'config', 'aitbc-agent@.service'), instance)
  t.doesNotThrow(() => execFileSync('systemd-analyze', ['verify', instance], { stdio: 'pipe' }))
  t.match(readFileSync(instance, 'utf8'), /agent run --agent-id %i/)
})

// systemd applies RestrictAddressFamilies= as a seccomp filter on socket(2) that answers EAFNOSUPPORT (97).
const FAMILIES: Record<string, number> = { AF_UNIX: 1, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16, AF_PACKET: 17 }
const unitFamilies = (): string[] => /^RestrictAddressFamilies=(.*)$/m.exec(readFileSync(unit, 'utf8'))![1]!.trim().split(/\s+/)

t.test('the daemon starts under the unit\'s address-family restriction (and not under the old one)', async (t) => {
  const helper = join(scratch, 'restrict-af')
  execFileSync('cc', ['-O2', '-o', helper, join(root, 'test', 'fixtures', 'c', 'restrict-af.c')])
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const psk = writePskFile()
  const families = unitFamilies()
  t.ok(families.includes('AF_NETLINK'), 'the unit allows netlink')
  const under = async (names: string[]) => {
    const numbers = names.map((n) => FAMILIES[n]!).join(',')
    // The mesh on 0.0.0.0, as the default config and `aitbc-node init` have it (with the key init writes).
    return startDaemon({
      wrap: [helper, numbers, '--'],
      args: ['--redis-url', redis.url, '--set', `p2p.listen=/ip4/0.0.0.0/tcp/${await freePort()}`],
      env: { AITBC_P2P_PSK_FILE: psk },
      waitReady: false,
    })
  }
  const old = await under(families.filter((f) => f !== 'AF_NETLINK'))
  t.equal((await old.exited).code, 1, 'without AF_NETLINK the start fails, as the shipped unit did')
  t.match(old.stderr(), /Unknown system error 97/)
  await old.stop()
  const d = await under(families)
  const ready = await d.waitForLog('daemon ready', (l) => l.msg === 'daemon ready')
  t.match(ready, { meshSecurity: 'psk' }, 'with the unit\'s families it starts and serves')
  t.equal((await fetch(`${d.url}/health`)).status, 200)
  await d.stop()
})

t.test('the polkit rule lets user aitbc start and restart the chain service and the daemon, nothing more', async (t) => {
  const source = readFileSync(join(root, 'config', 'polkit', '50-aitbc-node.rules'), 'utf8')
  let rule: ((a: unknown, s: unknown) => string) | null = null
  const polkit = { Result: { YES: 'yes', NO: 'no', NOT_HANDLED: 'not-handled' }, addRule: (f: typeof rule) => (rule = f) }
  runInNewContext(source, { polkit })
  const decide = (user: string, verb: string, unitName: string, id = 'org.freedesktop.systemd1.manage-units') =>
    rule!({ id, lookup: (k: string) => (k === 'unit' ? unitName : verb) }, { user })
  t.equal(decide('aitbc', 'restart', 'aitbc-blockchain-node.service'), 'yes')
  t.equal(decide('aitbc', 'start', 'aitbc-node.service'), 'yes')
  t.equal(decide('aitbc', 'stop', 'aitbc-blockchain-node.service'), 'not-handled', 'no stop')
  t.equal(decide('aitbc', 'restart', 'ssh.service'), 'not-handled', 'no other unit')
  t.equal(decide('mallory', 'restart', 'aitbc-blockchain-node.service'), 'not-handled', 'no other user')
  t.equal(decide('aitbc', 'restart', 'aitbc-blockchain-node.service', 'org.freedesktop.login1.reboot'), 'not-handled', 'no other action')
})
