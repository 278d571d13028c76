import t from 'tap'
import { serveLocal } from '../../fixtures/http-server.js'
import { cliRun } from '../run-cli.js'

// The CLI pointed at a server that is not a daemon (a proxy page, a dropped connection, a refused event
// stream): one line saying what went wrong, exit 1, never a stack trace.
t.test('a server that is not a daemon: non-JSON, a dropped connection, an event stream refused', async (t) => {
  const { url } = await serveLocal(t, (req, res) => {
    if (req.url === '/agents/discover') return res.end('<html>a proxy page</html>')
    if (req.url === '/agents/x') return req.socket.destroy()
    if (req.url?.startsWith('/ops?')) return res.end(JSON.stringify({ status: 'success', op_id: '00000000-0000-4000-8000-000000000000' }))
    res.writeHead(500)
    res.end('{}')
  })
  const html = await cliRun(['--url', url, 'agents', 'list'])
  t.equal(html.code, 1)
  t.match(html.stderr, 'POST /agents/discover: HTTP 200 with a non-JSON body: <html>a proxy page</html>')
  const reset = await cliRun(['--url', url, 'agents', 'status', '--agent-id', 'x'])
  t.equal(reset.code, 1)
  t.match(reset.stderr, `cannot reach aitbc-node at ${url} (ECONNRESET)`)
  const events = await cliRun(['--url', url, 'status'])
  t.equal(events.code, 1)
  t.match(events.stderr, 'cannot follow operation 00000000-0000-4000-8000-000000000000: HTTP 500')
  t.notMatch(`${html.stderr}${reset.stderr}${events.stderr}`, /\n\s+at /, 'no stack traces')
})
