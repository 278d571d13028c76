import { readFileSync } from 'node:fs'
import { generateKey } from '@libp2p/pnet'
import { P2pError } from './errors.js'

const HEADER = '/key/swarm/psk/1.0.0/'

/** A new private-network key in the swarm.key text form that go-ipfs and js-libp2p share. */
export function createPskText(): string {
  const buf = new Uint8Array(95)
  generateKey(buf)
  return new TextDecoder().decode(buf)
}

/** Reads and checks a swarm key file; the error says how to make a good one. */
export function readPskFile(path: string): Uint8Array {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new P2pError('ERR_PSK', `private network key ${path} cannot be read: ${(err as Error).message}`, {
      cause: err,
    })
  }
  const lines = text.trim().split(/\r?\n/)
  if (lines.length !== 3 || lines[0] !== HEADER || lines[1] !== '/base16/' || !/^[0-9a-f]{64}$/i.test(lines[2] ?? '')) {
    throw new P2pError(
      'ERR_PSK',
      `private network key ${path} is not a swarm key (expected 3 lines: ${HEADER}, /base16/, 64 hex digits); make one with: aitbc-node keygen psk > ${path}`,
    )
  }
  return new TextEncoder().encode(`${HEADER}\n/base16/\n${lines[2]!.toLowerCase()}\n`)
}
