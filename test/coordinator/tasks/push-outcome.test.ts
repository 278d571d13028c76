import { createServer, type Server } from 'node:net'
import t from 'tap'
import { unreachedReason } from '../../../src/coordinator/tasks/push-outcome.js'
import { freePort } from '../../fixtures/poll.js'

// What fetch really throws for each way a push can fail, told apart as the distributor does:
// never reached (the attempt is not counted) or reached and then failed (it is).
const push = (url: string, timeoutMs = 2000): Promise<unknown> =>
  fetch(url, { method: 'POST', body: '{}', signal: AbortSignal.timeout(timeoutMs) }).then(() => null, (err: unknown) => err)

async function listen(onSocket: (s: import('node:net').Socket) => void): Promise<{ url: string, server: Server }> {
  const server = createServer(onSocket)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => {
    server.close(() => r())
  }))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}/tasks/execute`, server }
}

t.test('never reached: a closed port, an unknown host, a listener that never answers', async (t) => {
  const closed = await freePort()
  t.equal(unreachedReason(await push(`http://127.0.0.1:${closed}/tasks/execute`), 2000), 'connection refused')
  t.equal(unreachedReason(await push('http://my-host.invalid:9002/tasks/execute'), 2000), 'host name not found')
  const sockets: import('node:net').Socket[] = []
  const { url } = await listen((s) => {
    sockets.push(s)
  })
  t.equal(unreachedReason(await push(url, 300), 300), 'no answer within 300 ms')
  for (const s of sockets) s.destroy()
})

t.test('reached: an agent that took the request and dropped the connection may have the task', async (t) => {
  const { url } = await listen((s) => {
    s.once('data', () => s.destroy())
  })
  const err = await push(url)
  t.ok(err instanceof Error, 'the push failed')
  t.equal(unreachedReason(err, 2000), null, 'counted as an attempt')
  t.equal(unreachedReason(new Error('HTTP 503'), 2000), null)
})
