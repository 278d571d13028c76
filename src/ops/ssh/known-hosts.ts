import { readFileSync } from 'node:fs'

/** The known_hosts name of a host: "host", or "[host]:port" off port 22 (OpenSSH's form). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

/** The base64 keys known_hosts lists for a host (hashed entries are not supported). */
export function knownKeys(file: string, host: string, port: number): string[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return []
  }
  const name = knownHostsName(host, port)
  const keys: string[] = []
  for (const line of text.split('\n')) {
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const [hosts, , key] = trimmed.split(/\s+/)
    if (hosts === undefined || key === undefined) continue
    if (hosts.split(',').includes(name)) keys.push(key)
  }
  return keys
}
