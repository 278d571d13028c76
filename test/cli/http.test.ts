import t from 'tap'
import { send, text } from '../../src/cli/http.js'
import { serveLocal } from '../fixtures/http-server.js'
import { freePort } from '../fixtures/poll.js'

// The CLI's HTTP client against a server that is not a well-behaved daemon.

t.test('an answer that never ends is cut at the limit', async (t) => {
  let sent = 0
  const { url } = await serveLocal(t, (_req, res) => {
    res.writeHead(200)
    const more = (): void => {
      while (sent < 64 * 1024 * 1024 && res.write(Buffer.alloc(64 * 1024, 120))) sent += 64 * 1024
      if (sent < 64 * 1024 * 1024) res.once('drain', more)
      else res.end()
    }
    more()
  })
  const res = await send(new URL(url))
  await t.rejects(text(res, 1024 * 1024), { code: 'ERR_ANSWER_TOO_LARGE' })
  t.ok(sent < 64 * 1024 * 1024, `the connection was dropped (${sent} bytes sent of 64 MiB)`)
})

t.test('the body, the method and the headers reach the server', async (t) => {
  const { url } = await serveLocal(t, (req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => {
      body += d.toString()
    })
    req.on('end', () => res.end(JSON.stringify({ method: req.method, auth: req.headers.authorization, body })))
  })
  const res = await send(new URL('/x', url), { method: 'POST', headers: { authorization: 'Bearer t' }, body: '{"a":1}' })
  t.equal(res.statusCode, 200)
  t.same(JSON.parse(await text(res)), { method: 'POST', auth: 'Bearer t', body: '{"a":1}' })
})

t.test('a reset or a refused connection rejects with the system code', async (t) => {
  const { url } = await serveLocal(t, (req) => req.socket.destroy())
  await t.rejects(send(new URL(url)), { code: 'ECONNRESET' })
  await t.rejects(send(new URL(`http://127.0.0.1:${await freePort()}/`)), { code: 'ECONNREFUSED' })
})
