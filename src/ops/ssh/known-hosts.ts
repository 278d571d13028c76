import { existsSync } from 'node:fs'
import { runProcess } from '../local/run-process.js'

/** The known_hosts name of a host: "host", or "[host]:port" off port 22 (OpenSSH's form). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

/** The entries known_hosts has for one host, by kind (base64 key blobs). */
export interface KnownHostKeys {
  keys: string[]
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
  const found: KnownHostKeys = { keys: [], revoked: [], authorities: [] }
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
    if (rest.length >= 3) found[kind].push(rest[2]!)
  }
  return found
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
  return `${node}: host key of ${name} CHANGED from the one in ${file}; refusing to connect (possible man-in-the-middle)`
}
