import t from 'tap'
import { sendMessageBody } from '../../../src/coordinator/http/routes/messages.js'

// The default is in the schema (so /openapi.json shows it); the handler relies on it being filled in.
t.test('POST /messages waits 2000 ms for first attempts unless wait_ms says otherwise', async (t) => {
  const body = sendMessageBody(60_000)
  t.equal(body.parse({ to: 'b', body: 'x' }).wait_ms, 2000)
  t.equal(body.parse({ to: 'b', body: 'x', wait_ms: 0 }).wait_ms, 0)
  t.throws(() => body.parse({ to: 'b', body: 'x', wait_ms: 30_001 }))
})
