import { createServer, type Server, type Socket } from 'node:net'
import t from 'tap'
import { postToAgent, unreachedReason } from '../../../src/coordinator/tasks/push-outcome.js'
import { freePort } from '../../fixtures/poll.js'

// How each way a push can fail is told apart, on real sockets: never reached (no connection was
// made: the attempt is not counted) or reached and then failed (it may have the task: counted).
const push = (endpoint: string, timeoutMs = 2000): Promise<unknown> =>
  postToAgent(endpoint, '{}', timeoutMs).then(() => null, (err: unknown) => err)

async function listen(onSocket: (s: Socket) => void): Promise<{ url: string, server: Server }> {
  const server = createServer(onSocket)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => {
    server.close(() => r())
  }))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, server }
}

t.test('never reached: a closed port, an unknown host, an endpoint that is no URL', async (t) => {
  const closed = await freePort()
  t.equal(unreachedReason(await push(`http://127.0.0.1:${closed}`)), 'connection refused')
  t.equal(unreachedReason(await push('http://my-host.invalid:9002')), 'host name not found')
  t.equal(unreachedReason(await push('not a url')), 'endpoint is not a valid URL')
})

t.test('reached: a listener that took the request and never answered may be working on it', async (t) => {
  const sockets: Socket[] = []
  const { url } = await listen((s) => {
    sockets.push(s)
  })
  const err = await push(url, 300)
  t.match(err, { message: 'no answer within 300 ms' })
  t.equal(unreachedReason(err), null, 'a slow agent keeps its attempt count: the push counts')
  for (const s of sockets) s.destroy()
})

t.test('reached: an agent that took the request and dropped the connection may have the task', async (t) => {
  const { url } = await listen((s) => {
    s.once('data', () => s.destroy())
  })
  const err = await push(url)
  t.ok(err instanceof Error, 'the push failed')
  t.equal(unreachedReason(err), null, 'counted as an attempt')
  t.equal(unreachedReason(new Error('HTTP 503')), null)
})

t.test('an answer is read whole: status and body', async (t) => {
  const { url } = await listen((s) => {
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{"status":"running"}'))
  })
  t.same(await postToAgent(url, '{}', 2000), { status: 200, text: '{"status":"running"}' })
})
