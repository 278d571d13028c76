import { request } from 'node:http'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import t from 'tap'
import { configSchema } from '../../../src/daemon/config/schema.js'
import { AgentRegistry, createCoordinatorApp, createHttpMetrics, type RedisHealth, redisKeys } from '../../../src/coordinator/index.js'
import { browserRefusal } from '../../../src/coordinator/http/browser-guard.js'
import { serveLocal } from '../../fixtures/http-server.js'
import { startRedis } from '../../fixtures/redis-server.js'

// The browser guard in front of every route, driven in-process on a real Redis with raw HTTP
// requests (fetch cannot set Host). Pages send these headers; curl and the CLI send none of them.

const redis = await startRedis({ appendonly: false })
t.teardown(() => redis.stop())
const client = new Redis(redis.url)
t.teardown(() => client.disconnect())
const health: RedisHealth = {
  ok: true, latency_ms: 0.5, aof_enabled: false, aof_fsync: 'everysec', maxmemory_policy: 'noeviction',
  used_memory_bytes: 1000, maxmemory_bytes: 0, warnings: [], error: null,
}
const TOKEN = 'guard-test-admin-token-0123456789'
const appWith = (prefix: string, tokens: { name: string, token: string, scopes: ['admin'] }[]) => createCoordinatorApp({
  registry: new AgentRegistry(client, redisKeys(prefix)),
  redisHealth: () => health,
  // anonymous: true as a daemon never passes it with tokens: the tokens must still win.
  auth: { tokens, anonymous: true },
  metrics: createHttpMetrics({ defaultMetrics: false }),
  log: pino({ level: 'silent' }),
  nodeName: 'Genesis',
  bodyLimitBytes: configSchema.parse({}).coordinator.bodyLimitBytes,
  version: '0.0.0-test',
  allowedHosts: ['api.example.org'],
})
const open = await serveLocal(t, appWith('guard-open:', []).callback())
const guarded = await serveLocal(t, appWith('guard-tokens:', [{ name: 'admin', token: TOKEN, scopes: ['admin'] }]).callback())
const port = new URL(open.url).port

interface Answer { status: number, body: { code?: string, message?: string, detail?: string } }
/** One raw request: every header exactly as given (Host included), the body as given. */
function send(base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path, headers, setHost: headers.host === undefined }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => {
        let parsed: Answer['body'] = {}
        try {
          parsed = JSON.parse(text) as Answer['body']
        } catch {
          // a non-JSON answer (the dashboard's HTML, metrics text): status alone is checked
        }
        resolve({ status: res.statusCode ?? 0, body: parsed })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}
const agent = (id: string) => JSON.stringify({ agent_id: id, agent_type: 'worker' })
const registered = async (id: string) => (await send(open.url, 'GET', `/agents/${id}`, {})).status === 200

t.test('a body must be JSON: other or no Content-Type is 415 naming the header, and nothing is stored', async (t) => {
  const accepted: [string, string][] = [
    ['application/json', 'ct-json'], ['application/json; charset=utf-8', 'ct-charset'], ['Application/JSON', 'ct-case'],
    ['application/vnd.aitbc+json', 'ct-suffix'],
  ]
  for (const [type, id] of accepted) {
    t.equal((await send(open.url, 'POST', '/agents/register', { 'content-type': type }, agent(id))).status, 200, type)
    t.ok(await registered(id), `${type}: registered`)
  }
  const refused: [string | null, string][] = [
    ['text/plain', 'ct-text'], ['text/plain;charset=UTF-8', 'ct-text-utf8'], ['application/x-www-form-urlencoded', 'ct-form'],
    ['multipart/form-data; boundary=x', 'ct-multipart'], ['application/jsonx', 'ct-jsonx'], ['json', 'ct-bare'], [null, 'ct-none'],
  ]
  for (const [type, id] of refused) {
    const res = await send(open.url, 'POST', '/agents/register', type === null ? {} : { 'content-type': type }, agent(id))
    t.equal(res.status, 415, `${type ?? 'no Content-Type'}: 415`)
    t.equal(res.body.code, 'UNSUPPORTED_MEDIA_TYPE')
    t.match(`${res.body.message} ${res.body.detail}`, /Content-Type/, 'names the header')
    t.notOk(await registered(id), `${type ?? 'no Content-Type'}: not registered`)
  }
  // A chunked body without a type is a body too.
  const chunked = await send(open.url, 'POST', '/agents/register', { 'transfer-encoding': 'chunked' }, agent('ct-chunked'))
  t.equal(chunked.status, 415, 'chunked, no type: 415')
  // An empty POST needs no type (the CLI's heartbeat, clear); an empty form POST names one and is refused.
  t.not((await send(open.url, 'POST', '/agents/ct-json/heartbeat', {})).status, 415, 'empty POST without a type passes')
  t.equal((await send(open.url, 'POST', '/agents/ct-json/heartbeat', { 'content-type': 'text/plain', 'content-length': '0' })).status, 415, 'empty text/plain POST: 415')
  t.equal((await send(open.url, 'GET', '/agents/ct-json', { 'content-type': 'text/plain' })).status, 200, 'a GET is not judged by a stray type')
})

t.test('an Origin other than the daemon\'s own is 403, on every route and with an empty body', async (t) => {
  const json = { 'content-type': 'application/json' }
  const same = await send(open.url, 'POST', '/agents/register', { ...json, origin: open.url }, agent('origin-same'))
  t.equal(same.status, 200, 'the dashboard\'s own origin')
  const named = await send(open.url, 'POST', '/agents/register', { ...json, host: `localhost:${port}`, origin: `http://localhost:${port}` }, agent('origin-named'))
  t.equal(named.status, 200, 'own origin by another loopback name')
  const proxied = await send(open.url, 'POST', '/agents/register', { ...json, host: 'api.example.org', origin: 'https://api.example.org' }, agent('origin-tls'))
  t.equal(proxied.status, 200, 'https origin of the same host (TLS ended in a proxy)')
  const foreign: [string, Record<string, string>][] = [
    ['another site', { origin: 'http://evil.example' }],
    ['another loopback port', { origin: `http://127.0.0.1:${Number(port) + 1}` }],
    ['another loopback name', { origin: `http://localhost:${port}` }],
    ['an opaque origin', { origin: 'null' }],
    ['a file page', { origin: 'file://' }],
    ['garbage', { origin: 'not a url' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }],
  ]
  for (const [what, headers] of foreign) {
    const id = `origin-${foreign.findIndex(([w]) => w === what)}`
    const res = await send(open.url, 'POST', '/agents/register', { ...json, ...headers }, agent(id))
    t.equal(res.status, 403, `${what}: 403`)
    t.equal(res.body.code, 'FOREIGN_ORIGIN', `${what}: code`)
    t.notOk(await registered(id), `${what}: not registered`)
  }
  for (const path of ['/agents/origin-same/heartbeat', '/tasks/queues/low/clear']) {
    t.equal((await send(open.url, 'POST', path, { origin: 'http://evil.example' })).status, 403, `empty POST ${path}: 403`)
  }
  for (const path of ['/health', '/v1/health', '/openapi.json', '/ui', '/ui/assets/x.js', '/agents/x', '/metrics', '/nodes/stream', '/no-such-route']) {
    t.equal((await send(open.url, 'GET', path, { origin: 'http://evil.example' })).status, 403, `GET ${path} from a foreign origin: 403`)
    t.equal((await send(open.url, 'GET', path, { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' })).status, 403, `GET ${path} cross-site: 403`)
  }
  t.equal((await send(open.url, 'GET', '/metrics', { 'sec-fetch-site': 'same-origin' })).status, 200, 'same-origin fetch')
  t.equal((await send(open.url, 'GET', '/metrics', { 'sec-fetch-site': 'none' })).status, 200, 'typed into the address bar')
  const nav = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }
  t.not((await send(open.url, 'GET', '/ui', nav)).status, 403, 'a link to the dashboard from elsewhere opens it')
  t.equal((await send(open.url, 'GET', '/metrics', nav)).status, 403, 'a link to an API route from elsewhere does not')
  t.equal((await send(open.url, 'POST', '/ui', { ...nav, 'content-type': 'application/json' }, '{}')).status, 403, 'a cross-site form POST does not')
})

t.test('Host must name the daemon: loopback, an IP literal, the node name or coordinator.allowedHosts (DNS rebinding)', async (t) => {
  for (const host of ['localhost', `localhost:${port}`, 'LOCALHOST', 'ui.localhost', '127.0.0.1', `127.0.0.2:${port}`, '[::1]', `[::1]:${port}`,
    '10.1.2.3:9001', '[fe80::1]', 'genesis', `Genesis:${port}`, 'api.example.org', 'api.example.org.']) {
    t.equal((await send(open.url, 'GET', '/metrics', { host })).status, 200, `Host: ${host}`)
  }
  for (const host of ['evil.example', `evil.example:${port}`, 'localhost.', 'genesis.evil.example', 'localhost.evil.example', 'example.org', '', 'a b', 'x@127.0.0.1']) {
    for (const path of ['/metrics', '/health', '/ui', '/openapi.json']) {
      const res = await send(open.url, 'GET', path, { host })
      t.equal(res.status, 421, `Host: "${host}" ${path}: 421`)
      t.equal(res.body.code, 'HOST_NOT_ALLOWED')
    }
    t.match((await send(open.url, 'GET', '/metrics', { host })).body.detail, /coordinator\.allowedHosts/, 'names the config key')
  }
  const rebound = await send(open.url, 'POST', '/agents/register', { 'host': `evil.example:${port}`, 'content-type': 'application/json' }, agent('rebound'))
  t.equal(rebound.status, 421, 'a rebound same-origin POST is refused')
  t.notOk(await registered('rebound'))
})

t.test('with tokens configured nothing is anonymous, loopback included', async (t) => {
  const anon = await send(guarded.url, 'POST', '/agents/register', { 'content-type': 'application/json' }, agent('anon'))
  t.equal(anon.status, 401, 'no Authorization on a loopback listener: 401')
  t.equal(anon.body.code, 'UNAUTHENTICATED')
  t.equal((await send(guarded.url, 'GET', '/metrics', {})).status, 401, 'a GET too')
  t.equal((await send(guarded.url, 'GET', '/metrics', { authorization: `Bearer ${TOKEN}` })).status, 200, 'the token works')
  t.equal((await send(guarded.url, 'GET', '/health', {})).status, 200, '/health stays open')
})

t.test('the rule alone: headers only, no server', async (t) => {
  const allowed = new Set(['genesis'])
  const code = (method: string, headers: Record<string, string>, url = '/x') => browserRefusal({ method, url, headers }, allowed)?.code ?? null
  t.equal(code('GET', {}), null, 'a request with no Host (HTTP/1.0) and no browser headers')
  t.equal(code('POST', { origin: 'http://genesis:9001' }), 'FOREIGN_ORIGIN', 'an Origin with no Host to compare it with')
  t.equal(code('POST', { 'host': 'evil.example', 'origin': 'http://evil.example', 'content-type': 'text/plain' }), 'HOST_NOT_ALLOWED', 'Host is judged first')
  t.equal(code('POST', { 'host': 'genesis', 'origin': 'http://evil.example', 'content-type': 'text/plain' }), 'FOREIGN_ORIGIN', 'then Origin')
  t.equal(code('POST', { 'host': 'genesis:80', 'origin': 'http://genesis', 'content-length': '2', 'content-type': 'application/json' }), null, 'default port on one side only')
  t.equal(code('POST', { host: 'genesis', origin: 'ftp://genesis' }), 'FOREIGN_ORIGIN', 'not an http(s) origin')
})
