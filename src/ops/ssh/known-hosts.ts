import { existsSync } from 'node:fs'
import { runProcess } from '../local/run-process.js'

/** The known_hosts name of a host: "host", or "[host]:port" off port 22 (OpenSSH's form). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

/** The entries known_hosts has for one host, by kind (base64 key blobs). */
export interface KnownHostKeys {
  keys: string[]
  /** The key types of `keys` (ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, ...), in file order. */
  keyTypes: string[]
  /** Keys marked @revoked: refused whatever else the file says. */
  revoked: string[]
  /** Keys of @cert-authority lines: certificate host keys, which this client does not accept. */
  authorities: string[]
}

/**
 * Looks a host up in a known_hosts file exactly as OpenSSH does, by asking
 * OpenSSH's own `ssh-keygen -F`: hashed entries (|1|salt|hash, what Debian
 * writes by default), [host]:port, patterns and negations, several keys per
 * host, @revoked and @cert-authority markers.
 */
export async function knownHostKeys(file: string, host: string, port: number, signal: AbortSignal): Promise<KnownHostKeys> {
  const found: KnownHostKeys = { keys: [], keyTypes: [], revoked: [], authorities: [] }
  if (!existsSync(file)) return found
  const r = await runProcess(['ssh-keygen', '-F', knownHostsName(host, port), '-f', file], { signal, timeoutMs: 5000 })
  if (r.spawnError !== null) throw new Error(`ssh-keygen (OpenSSH) is needed to read ${file}: ${r.spawnError.message}; apt-get install openssh-client`)
  // Exit 1 means no entry; the output is "# Host X found: line N [REVOKED|CA]" followed by the line.
  let kind: keyof KnownHostKeys = 'keys'
  for (const line of r.stdout.split('\n')) {
    const header = /^# Host .* found: line \d+\s*(REVOKED|CA)?\s*$/.exec(line)
    if (header !== null) {
      kind = header[1] === 'REVOKED' ? 'revoked' : header[1] === 'CA' ? 'authorities' : 'keys'
      continue
    }
    const fields = line.trim().split(/\s+/)
    const rest = fields[0]?.startsWith('@') === true ? fields.slice(1) : fields
    if (rest.length >= 3) {
      found[kind].push(rest[2]!)
      if (kind === 'keys' && !found.keyTypes.includes(rest[1]!)) found.keyTypes.push(rest[1]!)
    }
  }
  return found
}

/** The host key algorithms the SSH client offers by default, in its order (ssh2's). */
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa',
] as const

/** The signature algorithms a key type of known_hosts can be verified with (RSA keys sign with SHA-2 too, RFC 8332). */
const ALGORITHMS_OF_TYPE: Record<string, readonly string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
}

/**
 * The host key algorithms to offer, as OpenSSH orders them: those of the key
 * types known_hosts holds for the host first, then the others, each group in
 * the default order. Otherwise a server with several host keys presents its
 * preferred one (ed25519), which a known_hosts entry holding only its ECDSA
 * or RSA key cannot match.
 */
export function hostKeyAlgorithms(known: KnownHostKeys): string[] {
  const usable = new Set(known.keyTypes.flatMap((type) => ALGORITHMS_OF_TYPE[type] ?? []))
  return [...HOST_KEY_ALGORITHMS.filter((a) => usable.has(a)), ...HOST_KEY_ALGORITHMS.filter((a) => !usable.has(a))]
}

/** The key type named inside a public key blob (its first SSH string), or null when it is not one. */
function typeOfKey(blob: string): string | null {
  const b = Buffer.from(blob, 'base64')
  if (b.length < 4) return null
  const n = b.readUInt32BE(0)
  return n > 0 && n <= 64 && b.length >= 4 + n ? b.subarray(4, 4 + n).toString('latin1') : null
}

/** Why a presented host key is refused, or null when it is known and not revoked. */
export function hostKeyProblem(
  known: KnownHostKeys,
  presented: string,
  where: { node: string, name: string, file: string, host: string, port: number },
): string | null {
  const { node, name, file, host, port } = where
  if (known.revoked.includes(presented)) return `${node}: the host key of ${name} is marked @revoked in ${file}; refusing to connect`
  if (known.keys.includes(presented)) return null
  if (known.keys.length === 0 && known.authorities.length > 0) {
    return `${node}: ${file} trusts ${name} only through a @cert-authority line; certificate host keys are not supported, add the host's own key: ssh-keyscan -H -p ${port} ${host} >> ${file}`
  }
  if (known.keys.length === 0) return `${node}: host key of ${name} is not in ${file}; add it with: ssh-keyscan -H -p ${port} ${host} >> ${file}`
  const type = typeOfKey(presented)
  if (type !== null && !known.keyTypes.includes(type)) {
    return `${node}: ${name} presented a ${type} host key and ${file} holds only ${known.keyTypes.join(', ')} for it; refusing to connect (add its ${type} key once checked: ssh-keyscan -H -t ${type} -p ${port} ${host} >> ${file})`
  }
  return `${node}: host key of ${name} CHANGED from the one in ${file}; refusing to connect (possible man-in-the-middle)`
}
