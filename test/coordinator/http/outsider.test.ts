import { connect } from 'node:net'
import t from 'tap'
import { startCoordinator } from '../../fixtures/coordinator.js'
import { api } from '../../fixtures/api.js'
import { startRedis } from '../../fixtures/redis-server.js'

// The outsider at the surface this change opened: GET /health answered before Koa (and its
// authentication), and discover answers written as text from cached JSON. Raw bytes on a socket,
// path tricks, forged strings; nothing but /health is reached without a token, nothing is a 5xx.

const redis = await startRedis({ appendonly: false })
const tokens = [
  { name: 'ops-team', token: 'read-token-0123456789abcdef', scopes: ['read'] as const },
  { name: 'worker-fleet', token: 'agent-token-0123456789abcdef', scopes: ['agent'] as const },
]
const c = await startCoordinator({ redisUrl: redis.url, auth: { tokens, anonymous: false } })
t.teardown(async () => {
  await c.close()
  await redis.stop()
})
const port = Number(new URL(c.url).port)

/** Writes raw bytes and returns every status code the server answered, in order, once it closes. */
function raw(bytes: string | Buffer): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let got = ''
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => {
      got += d
    })
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)))
    socket.on('close', () => resolve([...got.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))))
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no close after 10 s; got ${got.slice(0, 200)}`)))
    socket.end(bytes)
  })
}
const req = (line: string, headers = '', body = '') => `${line}\r\nHost: 127.0.0.1\r\n${headers}\r\n${body}`

t.test('pipelined requests: only /health is answered without a token, path tricks included', async (t) => {
  const statuses = await raw([
    req('GET /health HTTP/1.1'),
    req('GET /v1/health HTTP/1.1'),
    req('GET /health/../metrics HTTP/1.1'),
    req('GET //health HTTP/1.1'),
    req('GET /health%2F..%2Fmetrics HTTP/1.1'),
    req('GET /agents/discover/../../health HTTP/1.1'),
    req('POST /health HTTP/1.1', 'Content-Type: application/json\r\nContent-Length: 2\r\n', '{}'),
    req('GET http://x/metrics HTTP/1.1'),
    req('GET /health HTTP/1.1', 'Connection: close\r\n'),
  ].join(''))
  t.same(statuses.length, 9, `one answer per request: ${statuses}`)
  t.equal(statuses[0], 200)
  t.equal(statuses[1], 200)
  for (const i of [2, 3, 4, 5, 6, 7]) t.ok(statuses[i] === 401 || statuses[i] === 404 || statuses[i] === 405, `request ${i + 1}: ${statuses[i]}`)
  t.equal(statuses[8], 200)
})

t.test('bodies, bad framing and huge headers on /health: a 4xx or the answer, never a crash', async (t) => {
  // A GET with a 2 MB chunked body: answered, the body read past, the next request on the connection answered too.
  const chunk = 'x'.repeat(64 * 1024)
  const chunked = Array.from({ length: 32 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('') + '0\r\n\r\n'
  const typed = 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n'
  t.same(await raw(req('GET /health HTTP/1.1', typed, chunked) + req('GET /health HTTP/1.1', 'Connection: close\r\n')), [200, 200])
  // Without a type the body is refused (415) and the connection closed rather than read past.
  // (A small body: all of it is read off the socket, so the close is a FIN, never a reset that loses the answer.)
  t.same(await raw(req('GET /health HTTP/1.1', 'Transfer-Encoding: chunked\r\n', '2\r\n{}\r\n0\r\n\r\n') + req('GET /health HTTP/1.1', 'Connection: close\r\n')), [415])
  t.same(await raw(req('GET /health HTTP/1.1', 'Content-Length: abc\r\n')), [400], 'a bad Content-Length')
  t.same(await raw(req('GET /health HTTP/1.1', `X-Big: ${'a'.repeat(20_000)}\r\n`)), [431], 'headers over Node\'s 16 KiB')
  t.same(await raw('GET /health HTTP/9.9\r\n\r\n'), [400], 'an unknown HTTP version')
  t.same(await raw(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00])), [400], 'a TLS hello')
  t.same(await raw(req('get /health HTTP/1.1', 'Connection: close\r\n')), [400], 'a lower-case method')
  t.equal((await api(c.url, 'GET', '/health')).status, 200, 'the listener still answers')
})

t.test('forged strings in an agent come back from discover as the JSON the agent was registered with', async (t) => {
  const agentToken = { authorization: `Bearer ${tokens[1]!.token}` }
  const readToken = { authorization: `Bearer ${tokens[0]!.token}` }
  const forged = ['"quote', 'back\\slash', '</script><script>x</script>', 'line\u2028sep', '\u0000nul', 'ünï€ødé', '},{"agent_id":"evil"']
  const reg = await api(c.url, 'POST', '/agents/register', {
    agent_id: 'forged', agent_type: '"}]', capabilities: forged, services: forged.slice(0, 3),
    metadata: { '"k': forged, 'nested': { deep: '\\"' } }, endpoints: { x: '"></a>' },
  }, agentToken)
  t.equal(reg.status, 200, JSON.stringify(reg.body))
  const query = { capabilities: [forged[6]!, forged[0]!], limit: 5 }
  const found = await api(c.url, 'POST', '/agents/discover', query, readToken)
  t.equal(found.status, 200)
  t.match(found.body, { status: 'success', count: 1, query })
  const one = await api(c.url, 'GET', '/agents/forged', undefined, readToken)
  t.same(found.body.agents, [one.body.agent], 'the cached JSON is the agent itself, no field more or less')
  t.same((found.body.agents as { capabilities: string[] }[])[0]!.capabilities, forged)

  t.equal((await api(c.url, 'POST', '/agents/discover', query)).status, 401, 'no token')
  t.equal((await api(c.url, 'POST', '/agents/discover', query, { authorization: 'Bearer read-token-0123456789abcdeX' })).status, 401, 'a forged token')
})
