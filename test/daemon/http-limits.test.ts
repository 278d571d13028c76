import { connect, type Socket } from 'node:net'
import t from 'tap'
import { api } from '../fixtures/api.js'
import { startCoordinator } from '../fixtures/coordinator.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

const redis = await startRedis()
t.teardown(() => redis.stop())
// The daemon's listener with its limits, in-process: the limits are the listener's, not the process's.
const d = await startCoordinator({
  redisUrl: redis.url, engine: { coordinator: { requestTimeoutMs: 1500, headersTimeoutMs: 1000, maxConnections: 3 } },
})
t.teardown(() => d.close())

/** A raw TCP client to the API; resolves with everything the server sent once it closes. */
function raw(write: string): { socket: Socket, done: Promise<{ text: string, ms: number }> } {
  const started = Date.now()
  const socket = connect(d.port, '127.0.0.1')
  let text = ''
  socket.on('data', (b) => (text += b.toString()))
  socket.write(write)
  const done = new Promise<{ text: string, ms: number }>((resolve) => {
    socket.on('close', () => resolve({ text, ms: Date.now() - started }))
    socket.on('error', () => {})
  })
  return { socket, done }
}

t.test('a stalled chunked body is cut off with 408 at coordinator.requestTimeoutMs, not minutes later', async (t) => {
  const { done } = raw('POST /tasks/submit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"tas\r\n')
  const { text, ms } = await done
  t.match(text, /^HTTP\/1\.1 408/, 'answered 408 Request Timeout')
  t.ok(ms < 4000, `closed after ${ms} ms`)
})

t.test('headers that never finish are cut off at coordinator.headersTimeoutMs', async (t) => {
  const { done } = raw('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n')
  const { ms } = await done
  t.ok(ms < 3500, `closed after ${ms} ms`)
})

t.test('connections over coordinator.maxConnections are refused, and served again once others close', async (t) => {
  const held = [0, 1, 2].map(() => raw('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n'))
  await waitFor('three connections answered', () => held.every((h) => h.socket.bytesRead > 0))
  const extra = raw('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  const refused = await extra.done
  t.equal(refused.text, '', 'the fourth connection is closed without an answer')
  for (const h of held) h.socket.destroy()
  await waitFor('served again', async () => (await api(d.url, 'GET', '/health').catch(() => ({ status: 0 }))).status === 200)
  t.pass('a new connection is served once the others closed')
})
