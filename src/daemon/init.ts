import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { createPskText, nodePeerId } from '../p2p/index.js'

export interface InitOptions {
  /** Where the config, the swarm key and the tokens go (default /etc/aitbc). */
  dir: string
  dataDir: string
  name: string
  /** The address other nodes reach this one on (for the peers line it prints). */
  address: string
  /** The system user the daemon runs as; files are given to it when it exists. */
  user: string
}

/** uid and gid of a system user, or null when there is no such user. */
function userIds(user: string): { uid: number, gid: number } | null {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[0] === user)
    if (line === undefined) return null
    const [, , uid, gid] = line.split(':')
    return { uid: Number(uid), gid: Number(gid) }
  } catch {
    return null
  }
}

/**
 * Writes what a node of a new (or existing) cluster needs: the private
 * network key (kept when present, so the first node's file can be copied to
 * the others before they run init), an admin token, a config that uses both,
 * and the node key; returns what to tell the operator, including the peers
 * entry the other nodes paste into their config. Existing files are kept.
 */
export async function initNode(o: InitOptions): Promise<string[]> {
  const out: string[] = []
  const owner = userIds(o.user)
  const give = (path: string): void => {
    if (owner !== null && process.getuid?.() === 0) chownSync(path, owner.uid, owner.gid)
  }
  mkdirSync(o.dir, { recursive: true, mode: 0o750 })
  // root keeps the directory; the daemon's group may read into it.
  if (owner !== null && process.getuid?.() === 0) chownSync(o.dir, 0, owner.gid)
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 })
  give(o.dataDir)
  const write = (file: string, text: string, what: string): void => {
    const path = join(o.dir, file)
    if (existsSync(path)) {
      out.push(`kept ${path} (${what}; it exists already)`)
      return
    }
    writeFileSync(path, text, { mode: 0o600 })
    give(path)
    out.push(`wrote ${path} (${what})`)
  }
  const pskPath = join(o.dir, 'swarm.key')
  write('swarm.key', createPskText(), 'the private network key: copy this same file to every node, mode 0600, before running init there')
  const token = randomBytes(32).toString('base64url')
  const tokensPath = join(o.dir, 'tokens.yaml')
  const hadTokens = existsSync(tokensPath)
  write('tokens.yaml', stringify([{ name: 'admin', token, scopes: ['admin'] }]), 'API tokens; add read, agent and operate tokens as needed')
  const config = {
    node: { name: o.name, dataDir: o.dataDir },
    p2p: { listen: '/ip4/0.0.0.0/tcp/7070', pskFile: pskPath, peers: [] },
    auth: { tokensFile: tokensPath },
  }
  write('aitbc-node.yaml', `# Written by aitbc-node init; every key is documented in config/aitbc-node.example.yaml.\n# Add the other nodes under p2p.peers, each with the peerId its own init printed.\n${stringify(config)}`, 'the daemon config')
  const sshKey = join(o.dir, 'ssh', 'id_ed25519')
  if (!existsSync(sshKey)) {
    mkdirSync(join(o.dir, 'ssh'), { recursive: true, mode: 0o700 })
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `aitbc-node@${o.name}`, '-f', sshKey])
    for (const f of [join(o.dir, 'ssh'), sshKey, `${sshKey}.pub`]) give(f)
    out.push(`wrote ${sshKey} (the SSH fallback's key; add ${sshKey}.pub to authorized_keys on the other nodes)`)
  }
  const { peerId } = await nodePeerId(join(o.dataDir, 'node.key'))
  give(join(o.dataDir, 'node.key'))
  out.push(
    '',
    `node ${o.name}, peer id ${peerId}`,
    ...(hadTokens ? [] : [`admin token (for AITBC_TOKEN or --token): ${token}`]),
    '',
    'On every other node, add this node to p2p.peers in /etc/aitbc/aitbc-node.yaml:',
    `  - { name: ${o.name}, address: "${o.address}:7070", peerId: ${peerId} }`,
    `or to AITBC_PEERS in /etc/aitbc/.env: ${o.name}=${o.address}:7070@${peerId}`,
  )
  return out
}
