import t from 'tap'
import { loadConfig } from '../../src/daemon/config/load.js'
import { StartError } from '../../src/daemon/startable.js'
import { apiHostNames, resolveAnonymous } from '../../src/daemon/secure-defaults.js'

// Who may call the API without a token, decided once at start from the effective config.
const TOKEN = JSON.stringify([{ name: 'ops', token: 'secure-defaults-token-0123456789', scopes: ['read'] }])
const config = (...set: string[]) => loadConfig({ env: {}, flags: { set } }).config
const outcome = (...set: string[]): boolean | string => {
  try {
    return resolveAnonymous(config(...set))
  } catch (err) {
    if (err instanceof StartError) return err.message
    throw err
  }
}

t.test('once a token exists no request is anonymous, loopback included', async (t) => {
  t.equal(outcome('coordinator.host=127.0.0.1', `auth.tokens=${TOKEN}`), false, 'loopback + tokens + auto')
  t.equal(outcome('coordinator.host=localhost', `auth.tokens=${TOKEN}`, 'auth.anonymous=false'), false)
  t.equal(outcome('coordinator.host=0.0.0.0', `auth.tokens=${TOKEN}`), false, 'any address + tokens')
  const both = outcome('coordinator.host=127.0.0.1', `auth.tokens=${TOKEN}`, 'auth.anonymous=true')
  t.type(both, 'string', 'auth.anonymous: true with tokens does not start')
  t.match(both, /auth\.anonymous: true and auth\.tokens/, 'naming both keys')
})

t.test('with no token at all: anonymous on loopback, refused elsewhere unless written explicitly', async (t) => {
  t.equal(outcome('coordinator.host=127.0.0.1'), true, 'loopback, auto (./dev up, local-cluster)')
  t.equal(outcome('coordinator.host=::1'), true)
  t.equal(outcome('coordinator.host=127.0.0.1', 'auth.anonymous=false'), false)
  t.match(outcome('coordinator.host=0.0.0.0'), /refusing to serve the API on 0\.0\.0\.0 without authentication/)
  t.equal(outcome('coordinator.host=0.0.0.0', 'auth.anonymous=true'), true, 'explicit insecure mode')
})

t.test('the Host names the API answers to: coordinator.host when it is a name, and coordinator.allowedHosts', async (t) => {
  t.same(apiHostNames(config('coordinator.host=0.0.0.0')), [])
  t.same(apiHostNames(config('coordinator.host=10.0.0.5', 'coordinator.allowedHosts=["aitbc1.example.org"]')), ['aitbc1.example.org'])
  t.same(apiHostNames(config('coordinator.host=aitbc1')), ['aitbc1'])
  t.throws(() => config('coordinator.allowedHosts=["evil.example:80"]'), /coordinator\.allowedHosts/, 'a port is not part of a name')
})
