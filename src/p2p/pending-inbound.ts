import { BlockList, isIPv4, isIPv6 } from 'node:net'
import type { MultiaddrConnection } from '@libp2p/interface'
import { P2pError } from './errors.js'
import { hostOf } from './peer-address.js'

/** Why an inbound connection was dropped before its handshake ended. */
export type PendingDrop = 'host_pending' | 'total_pending' | 'handshake_timeout'

export interface PendingInboundInit {
  /** Inbound connections still in their handshake from all hosts that are no configured peer's. */
  maxTotal: number
  /** Inbound connections still in their handshake that one host (an IPv6 /64) may hold. */
  maxPerHost: number
  /** How long a connection from a host that is no configured peer's has to finish its handshake. */
  handshakeTimeoutMs: number
  /** IP addresses of the configured peers (/ip4/... or /ip6/...): neither limit applies to them. */
  peerHosts: readonly string[]
  /** Each connection refused or closed here, for metrics. */
  onDrop?(reason: PendingDrop, host: string): void
}

/**
 * Per-host bounds on inbound connections that have not finished their
 * handshake (pnet, noise, muxer). libp2p bounds these globally only (10 by
 * default): idle sockets from eight addresses kept that many slots full and
 * let a new peer in for 3 of 30 attempts. Here each host holds at most
 * maxPerHost slots, each for at most handshakeTimeoutMs, so maxTotal is
 * reached only by maxTotal / maxPerHost hosts at once. The hosts of
 * configured peers are exempt (libp2p's allow list exempts them from its
 * limits too): nodes restarting behind one address must all get in.
 */
export class PendingInbound {
  private readonly pending = new Map<string, number>()
  private total = 0
  private readonly exempt = new BlockList()
  /** How each connection holding a slot gives it back. */
  private readonly holders = new WeakMap<MultiaddrConnection, () => void>()

  constructor(private readonly init: PendingInboundInit) {
    for (const h of init.peerHosts) {
      const [, proto, address] = h.split('/')
      if (address !== undefined) this.exempt.addAddress(address, proto === 'ip6' ? 'ipv6' : 'ipv4')
    }
  }

  /**
   * The connection gater's denyInboundConnection: true refuses the socket.
   * An accepted one holds its host's slot until it is upgraded or closed; if
   * neither happens within handshakeTimeoutMs it is closed.
   */
  deny(maConn: MultiaddrConnection): boolean {
    const address = hostOf(maConn.remoteAddr) ?? ''
    if (this.isExempt(address)) return false
    const host = hostKey(address)
    const held = this.pending.get(host) ?? 0
    if (held >= this.init.maxPerHost || this.total >= this.init.maxTotal) {
      this.init.onDrop?.(held >= this.init.maxPerHost ? 'host_pending' : 'total_pending', host)
      return true
    }
    this.pending.set(host, held + 1)
    this.total++
    const deadline = AbortSignal.timeout(this.init.handshakeTimeoutMs)
    let done = false
    const release = (): void => {
      if (done) return
      done = true
      this.total--
      deadline.removeEventListener('abort', expire)
      const left = (this.pending.get(host) ?? 1) - 1
      if (left <= 0) this.pending.delete(host)
      else this.pending.set(host, left)
    }
    const expire = (): void => {
      release()
      this.init.onDrop?.('handshake_timeout', host)
      maConn.abort(new P2pError('ERR_P2P_HANDSHAKE_TIMEOUT', `inbound connection from ${address} did not finish its handshake within ${this.init.handshakeTimeoutMs} ms`))
    }
    deadline.addEventListener('abort', expire, { once: true })
    // A socket that closes for any reason (refused by the PSK, an error, the remote hanging up)
    // gives its slot back; so does the upgrade, which the gater hears of (upgraded below).
    this.holders.set(maConn, release)
    maConn.addEventListener('close', release, { once: true })
    return false
  }

  /** The gater's denyInboundUpgradedConnection calls this: the handshake is over, the slot is free. */
  upgraded(maConn: MultiaddrConnection): void {
    this.holders.get(maConn)?.()
    this.holders.delete(maConn)
  }

  private isExempt(address: string): boolean {
    const v4 = mappedIPv4(address)
    if (v4 !== null) return this.exempt.check(v4, 'ipv4')
    return isIPv6(address) ? this.exempt.check(address, 'ipv6') : this.exempt.check(address, 'ipv4')
  }
}

/** The address an IPv4-mapped IPv6 address (::ffff:a.b.c.d) stands for, else null. */
function mappedIPv4(address: string): string | null {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return m !== null && isIPv4(m[1]!) ? m[1]! : null
}

/**
 * Who a pending slot is counted against: an IPv4 address, or an IPv6 /64
 * (one machine or one customer usually holds a whole /64, so counting single
 * IPv6 addresses would be no limit at all).
 */
export function hostKey(address: string): string {
  const v4 = mappedIPv4(address)
  if (v4 !== null) return v4
  if (!isIPv6(address)) return address
  const [head = '', tail] = address.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}
