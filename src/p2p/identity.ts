import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { P2pError } from './errors.js'

/**
 * Loads the node's key from `path`, or creates and stores one, so the peer ID
 * survives restarts (peers and allowlists refer to it).
 */
export async function loadOrCreateNodeKey(path: string): Promise<{ key: PrivateKey, created: boolean }> {
  if (existsSync(path)) {
    try {
      return { key: privateKeyFromProtobuf(readFileSync(path)), created: false }
    } catch (err) {
      throw new P2pError(
        'ERR_NODE_KEY',
        `node key ${path} cannot be read (${(err as Error).message}); restore it from backup, or move it away to get a new peer id`,
        { cause: err },
      )
    }
  }
  const key = await generateKeyPair('Ed25519')
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  // Write then rename, so a crash never leaves half a key behind.
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
  return { key, created: true }
}

/** The peer id of the node key in `path`, creating the key if there is none yet. */
export async function nodePeerId(path: string): Promise<{ peerId: string, created: boolean }> {
  const { key, created } = await loadOrCreateNodeKey(path)
  return { peerId: peerIdFromPrivateKey(key).toString(), created }
}
