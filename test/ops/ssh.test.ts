import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { shellQuote, SshError, sshExec } from '../../src/ops/index.js'
import { meshTestBed } from '../fixtures/mesh.js'
import { startOpsNode, type TestOpsNode } from '../fixtures/ops-node.js'
import { freePort, waitFor } from '../fixtures/poll.js'
import { canRunSshd, startSshd } from '../fixtures/sshd.js'

if (!canRunSshd()) {
  t.test('SSH fallback', {
    skip: 'SKIPPED: sshd refuses to start without /run/sshd, which only root can create; run the suite as root (CI does) or once: sudo mkdir -p /run/sshd',
  }, () => {})
} else {
  await sshTests()
}

async function sshTests(): Promise<void> {
  const sshd = await startSshd()
  t.teardown(() => sshd.stop())
  const scratch = mkdtempSync(join(tmpdir(), 'aitbc-ssh-'))
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }))
  const target = (knownHostsFile: string) => ({
    node: 'follower', host: '127.0.0.1', port: sshd.port, user: sshd.user, keyFile: sshd.clientKey, knownHostsFile,
  })
  const opts = { connectTimeoutMs: 5000, commandTimeoutMs: 10_000 }

  t.test('a known host key: the command runs, arguments arrive literally', async (t) => {
    const pwned = join(scratch, 'pwned')
    const evil = `x'; touch ${pwned}; echo '`
    const res = await sshExec(target(sshd.knownHosts), ['/bin/echo', evil, '$(id)', '`id`', ';', '|'], opts)
    t.equal(res.code, 0)
    t.equal(res.output, `${evil} $(id) \`id\` ; |`, 'printed as given')
    t.notOk(existsSync(pwned), 'the injection attempt ran nothing')
    t.equal(shellQuote('it\'s'), `'it'\\''s'`)
  })

  t.test('an unknown host key is refused before authentication', async (t) => {
    const err = await sshExec(target(sshd.emptyKnownHosts), ['/bin/true'], opts).catch((e: unknown) => e)
    t.ok(err instanceof SshError)
    t.match(err, { code: 'ERR_SSH_HOST_KEY', message: /is not in .*known_hosts.empty; add it with: ssh-keyscan/ })
  })

  t.test('a wrong client key is an authentication error naming the node; a closed port a connection error', async (t) => {
    const { execFileSync } = await import('node:child_process')
    const stranger = join(scratch, 'stranger_key')
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger])
    const auth = await sshExec({ ...target(sshd.knownHosts), keyFile: stranger }, ['/bin/true'], opts).catch((e: unknown) => e)
    t.match(auth, { code: 'ERR_SSH_AUTH', message: /^follower: / })
    const closed = await sshExec({ ...target(sshd.knownHosts), port: 1 }, ['/bin/true'], opts).catch((e: unknown) => e)
    t.match(closed, { code: 'ERR_SSH_CONNECT', message: /^follower: .*ECONNREFUSED/ })
  })

  t.test('known_hosts as OpenSSH writes it: hashed, bracketed, several keys per host, revoked, cert-authority', async (t) => {
    const { execFileSync } = await import('node:child_process')
    const file = (name: string, text: string): string => {
      const path = join(scratch, name)
      writeFileSync(path, text)
      return path
    }
    // Real `ssh-keyscan -H` output: hashed |1|salt|hash entries for [127.0.0.1]:port, one per host key type.
    const scanned = execFileSync('ssh-keyscan', ['-H', '-p', String(sshd.port), '127.0.0.1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    t.match(scanned, /^\|1\|[^|]+\|[^ ]+ ssh-ed25519 /m, 'keyscan wrote hashed entries')
    t.ok(scanned.trim().split('\n').length >= 2, 'several keys for the one host')
    t.equal((await sshExec(target(file('kh.scanned', scanned)), ['/bin/echo', 'hashed'], opts)).output, 'hashed', 'hashed entries from ssh-keyscan -H are accepted')

    // A file written by ssh itself on first connection (HashKnownHosts yes, as Debian's ssh_config has it).
    const byssh = join(scratch, 'kh.byssh')
    execFileSync('ssh', [
      '-p', String(sshd.port), '-i', sshd.clientKey, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new',
      '-o', `UserKnownHostsFile=${byssh}`, '-o', 'HashKnownHosts=yes', '-o', 'GlobalKnownHostsFile=/dev/null', `${sshd.user}@127.0.0.1`, 'true',
    ], { stdio: 'ignore' })
    t.match(readFileSync(byssh, 'utf8'), /^\|1\|/, 'ssh hashed what it wrote')
    t.equal((await sshExec(target(byssh), ['/bin/echo', 'ok'], opts)).output, 'ok', 'a known_hosts written by ssh is accepted')

    const [type, key] = readFileSync(`${sshd.hostKey}.pub`, 'utf8').trim().split(/\s+/)
    const revoked = await sshExec(target(file('kh.revoked', `${scanned}@revoked [127.0.0.1]:${sshd.port} ${type} ${key}\n`)), ['/bin/true'], opts).catch((e: unknown) => e)
    t.match(revoked, { code: 'ERR_SSH_HOST_KEY', message: /marked @revoked/ }, 'a @revoked key is refused even though another line lists it')

    const ca = await sshExec(target(file('kh.ca', `@cert-authority [127.0.0.1]:${sshd.port} ${type} ${key}\n`)), ['/bin/true'], opts).catch((e: unknown) => e)
    t.match(ca, { code: 'ERR_SSH_HOST_KEY', message: /@cert-authority.*not supported/ }, 'a host known only through a CA is refused with a clear message')

    const elsewhere = await sshExec({ ...target(file('kh.scanned2', scanned)), host: 'localhost' }, ['/bin/true'], opts).catch((e: unknown) => e)
    t.match(elsewhere, { code: 'ERR_SSH_HOST_KEY', message: /is not in .*ssh-keyscan -H/ }, 'a host that is not in the file (localhost vs 127.0.0.1) is unknown')

    const wrongHashed = join(scratch, 'kh.wronghashed')
    writeFileSync(wrongHashed, readFileSync(sshd.wrongKnownHosts))
    execFileSync('ssh-keygen', ['-H', '-f', wrongHashed], { stdio: 'ignore' })
    const changed = await sshExec(target(wrongHashed), ['/bin/true'], opts).catch((e: unknown) => e)
    t.match(changed, { code: 'ERR_SSH_HOST_KEY', message: /CHANGED/ }, 'a hashed entry with another key is a changed key')
  })

  t.test('a changed host key is refused', async (t) => {
    const err = await sshExec(target(sshd.wrongKnownHosts), ['/bin/true'], opts).catch((e: unknown) => e)
    t.match(err, { code: 'ERR_SSH_HOST_KEY', message: /CHANGED/ })
  })

  t.test('a node whose daemon is stopped: unreachable, the SSH fallback reports the services, force starts the daemon', async (t) => {
    const calls = join(scratch, 'calls.log')
    const manager = join(scratch, 'fake-systemctl')
    writeFileSync(manager, `#!/bin/sh\necho "$@" >> '${calls}'\nif [ "$1" = is-active ]; then echo inactive; exit 3; fi\n`)
    chmodSync(manager, 0o755)
    // In-process nodes wired as the daemon wires its operations; the follower's mesh stops as its daemon would.
    const { client, dir } = await meshTestBed(t, 'ssh')
    const ports = { genesis: await freePort(), follower: await freePort() }
    const common = { dir, redis: client, prefix: 'ssh:', maxConcurrent: 5, maxQueued: 20, defaultTimeoutMs: 60_000, serviceManager: manager }
    // Genesis has an SSH path to the follower (the same machine, through the test sshd).
    const g: TestOpsNode = await startOpsNode({
      ...common, name: 'genesis', port: ports.genesis,
      peers: [{ name: 'follower', address: `/ip4/127.0.0.1/tcp/${ports.follower}` }],
      ssh: { paths: { follower: { host: '127.0.0.1', port: sshd.port, user: sshd.user, keyFile: sshd.clientKey } }, knownHostsFile: sshd.knownHosts },
    })
    t.teardown(() => g.stop())
    const follower = await startOpsNode({
      ...common, name: 'follower', port: ports.follower, peers: [{ name: 'genesis', address: `/ip4/127.0.0.1/tcp/${ports.genesis}` }],
    })
    await waitFor('follower online', () => g.mesh.view.stateOf('follower') === 'online')
    await follower.stop()
    await waitFor('follower offline', () => g.mesh.view.stateOf('follower') === 'offline')

    // Two SSH round trips on a loaded 2-core machine can pass 5 s; the deadline is not what is tested.
    const res = await g.run({ operation: 'status', target_node: 'follower', timeout: 15 })
    t.match(res.report, {
      validation_status: 'failed',
      nodes_status: { follower: { status: 'offline' } },
      issues: [
        { node: 'follower', step: 'verify', error: /unreachable/ },
        { node: 'follower', step: 'ssh', error: 'over SSH: aitbc-node is inactive, the chain service is inactive', suggestion: /--force/ },
      ],
    })
    t.notMatch(readFileSync(calls, 'utf8'), /start/, 'nothing started without force')
    const forced = await g.run({ operation: 'status', target_node: 'follower', timeout: 15, force: true })
    t.match(forced.report?.issues.find((i) => i.step === 'ssh'), { error: /aitbc-node was started \(force\)/ })
    await waitFor('start recorded', () => readFileSync(calls, 'utf8').includes('start aitbc-node'))
    t.pass('the daemon start went through the service manager over SSH')
  })
}
