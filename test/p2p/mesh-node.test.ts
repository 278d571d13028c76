import t from 'tap'
import { fastMessageId } from '../../src/p2p/mesh-node.js'

// In-process: the identity a received gossip copy is deduplicated by before its signature is checked.
t.test('copies of one signed message share an id, whatever buffer they arrive in; other signatures do not', async (t) => {
  const signature = Uint8Array.from({ length: 64 }, (_, i) => i)
  const framed = new Uint8Array(80)
  framed.set(signature, 8)
  const copy = { signature: framed.subarray(8, 72), data: new TextEncoder().encode('{"other":"bytes"}') }
  t.equal(fastMessageId({ signature, data: new Uint8Array([1]) }), fastMessageId(copy), 'the id is the signature alone')
  const other = Uint8Array.from(signature)
  other[63] = 0
  t.not(fastMessageId({ signature: other }), fastMessageId({ signature }))
})

t.test('an unsigned message (refused later anyway) is named by its data', async (t) => {
  t.equal(fastMessageId({ data: new Uint8Array([1, 2]) }), fastMessageId({ data: new Uint8Array([1, 2]) }))
  t.not(fastMessageId({ data: new Uint8Array([1, 2]) }), fastMessageId({ data: new Uint8Array([2, 1]) }))
  t.equal(typeof fastMessageId({}), 'string')
})
