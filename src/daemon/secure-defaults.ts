import { isIP } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { hostOf } from '../p2p/index.js'
import type { Config } from './config/schema.js'
import { StartError } from './startable.js'

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/

/**
 * Whether requests without a token are allowed, or why the daemon must not
 * start. Once any token exists none is (loopback included: every local user
 * and every page a local browser opens reaches a loopback listener); with no
 * token at all, only on a loopback listener or when auth.anonymous: true says so.
 */
export function resolveAnonymous(config: Config): boolean {
  const hasTokens = config.auth.tokens.length > 0
  if (config.auth.anonymous === true) {
    if (hasTokens) {
      throw new StartError(
        'auth.anonymous: true and auth.tokens (AITBC_API_TOKEN, auth.tokensFile) are both set, but once a token exists no request is anonymous: remove auth.anonymous: true, or the tokens',
      )
    }
    return true
  }
  if (config.auth.anonymous === false || hasTokens) return false
  if (LOOPBACK.test(config.coordinator.host)) return true
  throw new StartError(
    `refusing to serve the API on ${config.coordinator.host} without authentication: set AITBC_API_TOKEN or auth.tokens, bind coordinator.host to 127.0.0.1, or set auth.anonymous: true explicitly`,
  )
}

/** Names the API's Host header may carry besides loopback names, IP literals and the node name. */
export function apiHostNames(config: Config): string[] {
  const host = config.coordinator.host
  return [...(isIP(host) === 0 ? [host] : []), ...config.coordinator.allowedHosts]
}

/**
 * How the mesh keeps strangers out: 'psk', 'allowlist', 'loopback', or
 * 'insecure' (written explicitly). A non-loopback listener with none of the
 * first two is refused unless p2p.insecure is set.
 */
export function resolveMeshSecurity(config: Config): 'psk' | 'allowlist' | 'loopback' | 'insecure' {
  if (config.p2p.pskFile !== null) return 'psk'
  if (config.p2p.allowlist.length > 0) return 'allowlist'
  let host = ''
  try {
    host = hostOf(multiaddr(config.p2p.listen)) ?? ''
  } catch {
    // A listen address that is not ip4/ip6/dns is judged as not loopback.
  }
  if (LOOPBACK.test(host)) return 'loopback'
  if (config.p2p.insecure) return 'insecure'
  throw new StartError(
    `refusing to open the mesh on ${config.p2p.listen} to any peer that reaches it: set p2p.pskFile (aitbc-node init writes one), list the peers in p2p.allowlist, or set p2p.insecure: true explicitly`,
  )
}
