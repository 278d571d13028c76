import { isIPv4, isIPv6 } from 'node:net'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { P2pError } from './errors.js'

/** Turns a configured peer address (multiaddr or host:port) into a multiaddr. */
export function peerMultiaddr(address: string): Multiaddr {
  if (address.startsWith('/')) {
    try {
      return multiaddr(address)
    } catch (err) {
      throw new P2pError('ERR_PEER_ADDRESS', `peer address "${address}" is not a valid multiaddr`, { cause: err })
    }
  }
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address)
  const port = Number(m?.[2])
  if (m === null || port < 1 || port > 65535) {
    throw new P2pError('ERR_PEER_ADDRESS', `peer address "${address}" is neither a multiaddr nor host:port (e.g. 10.0.0.2:7070)`)
  }
  const host = m[1]!
  const proto = isIPv4(host) ? 'ip4' : isIPv6(host) ? 'ip6' : 'dns'
  return multiaddr(`/${proto}/${host}/tcp/${port}`)
}

/**
 * The IP address a configured peer is reached at, as a multiaddr (/ip4/... or
 * /ip6/...), or null for a DNS name (its address is not known until resolved).
 */
export function peerHostAddress(address: string): string | null {
  const host = peerMultiaddr(address).getComponents()[0]
  return host !== undefined && (host.name === 'ip4' || host.name === 'ip6') ? `/${host.name}/${host.value}` : null
}

/** The IP address or DNS name a multiaddr starts with (/ip4, /ip6, /dns*), or null when it starts with none. */
export function hostOf(ma: Multiaddr): string | null {
  const first = ma.getComponents()[0]
  if (first === undefined || first.value === undefined) return null
  return /^(ip4|ip6|dns|dns4|dns6|dnsaddr)$/.test(first.name) ? first.value : null
}
