import { readFileSync } from 'node:fs'
import type { ServerHostKeyAlgorithm } from 'ssh2'
import { hostKeyAlgorithms, hostKeyProblem, knownHostKeys, knownHostsName } from './known-hosts.js'

/** How to reach one node over SSH (from its peer entry in the config). */
export interface SshTarget {
  node: string
  host: string
  port: number
  user: string
  keyFile: string
  knownHostsFile: string
}

/** An SSH failure with the step it happened in, so reports can name it. */
export class SshError extends Error {
  constructor(readonly code: 'ERR_SSH_HOST_KEY' | 'ERR_SSH_CONNECT' | 'ERR_SSH_AUTH' | 'ERR_SSH_TIMEOUT' | 'ERR_SSH_COMMAND', message: string) {
    super(message)
    this.name = 'SshError'
  }
}

/** Quotes one argument for a POSIX shell: everything inside single quotes is literal. */
export function shellQuote(arg: string): string {
  return `'${arg.replaceAll('\'', '\'\\\'\'')}'`
}

/**
 * Runs one command built from quoted argv on the node. The host key must be
 * in known_hosts: an unknown or changed key is refused before authenticating.
 */
export async function sshExec(
  target: SshTarget,
  argv: string[],
  opts: { connectTimeoutMs: number, commandTimeoutMs: number, signal?: AbortSignal },
): Promise<{ code: number | null, output: string }> {
  const name = knownHostsName(target.host, target.port)
  let known
  try {
    const signal = opts.signal ?? AbortSignal.timeout(opts.connectTimeoutMs)
    known = await knownHostKeys(target.knownHostsFile, target.host, target.port, signal)
  } catch (err) {
    throw new SshError('ERR_SSH_HOST_KEY', `${target.node}: ${(err as Error).message}`)
  }
  // Loaded on first use: ssh2 brings a 16 MB WebAssembly memory (its poly1305), which a daemon
  // that never falls back to SSH should not carry.
  const { Client } = await import('ssh2')
  return new Promise((resolve, reject) => {
    const client = new Client()
    let refusedKey: SshError | null = null
    let settled = false
    const done = (err: Error | null, value?: { code: number | null, output: string }): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      client.end()
      if (err !== null) reject(err)
      else resolve(value!)
    }
    const timer = setTimeout(() => done(new SshError('ERR_SSH_TIMEOUT', `${target.node}: no answer over SSH within ${opts.commandTimeoutMs} ms`)), opts.commandTimeoutMs)
    opts.signal?.addEventListener('abort', () => done(new SshError('ERR_SSH_TIMEOUT', `${target.node}: SSH command cut off at the deadline`)), { once: true })
    client.on('error', (err) => {
      if (refusedKey !== null) return done(refusedKey)
      const level = (err as { level?: string }).level
      done(new SshError(level === 'client-authentication' ? 'ERR_SSH_AUTH' : 'ERR_SSH_CONNECT', `${target.node}: ${err.message}`))
    })
    client.on('ready', () => {
      client.exec(argv.map(shellQuote).join(' '), (err, stream) => {
        if (err) return done(new SshError('ERR_SSH_COMMAND', `${target.node}: ${err.message}`))
        let output = ''
        stream.on('data', (b: Buffer) => {
          output += b.toString()
        })
        stream.stderr.on('data', (b: Buffer) => {
          output += b.toString()
        })
        stream.on('close', (code: number | null) => done(null, { code, output: output.trim().slice(-4000) }))
      })
    })
    let privateKey: Buffer
    try {
      privateKey = readFileSync(target.keyFile)
    } catch (err) {
      return done(new SshError('ERR_SSH_AUTH', `${target.node}: SSH key ${target.keyFile} cannot be read: ${(err as Error).message}`))
    }
    client.connect({
      host: target.host,
      port: target.port,
      username: target.user,
      privateKey,
      readyTimeout: opts.connectTimeoutMs,
      algorithms: { serverHostKey: hostKeyAlgorithms(known) as ServerHostKeyAlgorithm[] },
      hostVerifier: (key: Buffer) => {
        const problem = hostKeyProblem(known, key.toString('base64'), { node: target.node, name, file: target.knownHostsFile, host: target.host, port: target.port })
        if (problem === null) return true
        refusedKey = new SshError('ERR_SSH_HOST_KEY', problem)
        return false
      },
    })
  })
}
