/**
 * The peer of bench:api: a Koa app answering {"hello":"world"}, in a process
 * of its own like the daemon. Prints its URL on stdout once it listens.
 */
import { createServer } from 'node:http'
import Koa from 'koa'

const koa = new Koa()
koa.use((ctx) => {
  ctx.body = { hello: 'world' }
})
const server = createServer(koa.callback())
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as { port: number }).port}\n`)
})
process.once('SIGTERM', () => server.close(() => process.exit(0)))
