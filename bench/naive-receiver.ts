/**
 * The naive baseline's receiver: a bare libp2p node (same transports as the
 * daemon) answering one ack per stream, no persistence. Prints its address.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { configSchema } from '../src/daemon/config/schema.js'
import { createMeshNode } from '../src/p2p/mesh-node.js'
import { NAIVE_PROTOCOL } from './stats.js'

const port = Number(process.argv[2])
const node = await createMeshNode({ privateKey: await generateKeyPair('Ed25519'), listen: `/ip4/127.0.0.1/tcp/${port}`, inbound: configSchema.parse({}).p2p.inbound })
await node.handle(NAIVE_PROTOCOL, (stream) => {
  void (async () => {
    const io = lpStream(stream)
    const frame = await io.read()
    const { id } = JSON.parse(new TextDecoder().decode(frame.subarray())) as { id: string }
    await io.write(new TextEncoder().encode(JSON.stringify({ t: 'ack', id, result: 'delivered' })))
    await stream.close()
  })().catch(() => stream.abort(new Error('naive receiver failed')))
}, { maxInboundStreams: 1024 })
await node.start()
process.stdout.write(`${node.getMultiaddrs()[0]!.toString()}\n`)
process.on('SIGTERM', () => {
  void Promise.resolve(node.stop()).then(() => process.exit(0))
})
