import type { Logger } from 'pino'

/** What was wrong with a refused status: not JSON, too large, off the schema, or another peer's id in it. */
export type MalformedKind = 'not_json' | 'too_large' | 'schema' | 'foreign_peer_id'

/** Bounds on malformed statuses from one peer. */
export interface MalformedStatusLimits {
  /** Malformed statuses within windowMs that get the peer disconnected. */
  disconnectAfter: number
  windowMs: number
  /** At most one warning line per peer and kind this often; the ones between are counted in the next. */
  warnEveryMs: number
}

export interface MalformedStatusesInit extends MalformedStatusLimits {
  log: Logger
  /** Each malformed status, for metrics. */
  onMalformed?(kind: MalformedKind): void
  /** Each warning line left out. */
  onSuppressed?(): void
  /** The peer went past disconnectAfter: the mesh disconnects it and keeps it out for a while. */
  onTooMany(peerId: string): void
}

interface PeerRecord {
  windowStart: number
  count: number
  /** Whether onTooMany was called in this window. */
  dropped: boolean
  warned: Map<MalformedKind, { at: number, suppressed: number }>
}

/** Peers remembered at once; a peer needs the PSK and a connection to be here, but the map is bounded anyway. */
const MAX_PEERS = 1000

/**
 * Counts malformed statuses per sending peer. A peer with the PSK wrote one
 * warning line per malformed status (2,000 lines, 376 KB in 3.7 s) and stayed
 * connected; here it gets one line per kind every warnEveryMs, and past
 * disconnectAfter within windowMs it is disconnected, logged once.
 */
export class MalformedStatuses {
  private readonly peers = new Map<string, PeerRecord>()

  constructor(private readonly init: MalformedStatusesInit) {}

  /** Records one malformed status that `peerId` sent (the connection it came over, not the author it names). */
  record(peerId: string, kind: MalformedKind, fields: Record<string, unknown>): void {
    this.init.onMalformed?.(kind)
    const now = Date.now()
    const r = this.recordOf(peerId, now)
    if (now - r.windowStart > this.init.windowMs) {
      r.windowStart = now
      r.count = 0
      r.dropped = false
    }
    r.count++
    this.warn(r, peerId, kind, fields, now)
    if (r.count >= this.init.disconnectAfter && !r.dropped) {
      r.dropped = true
      this.init.log.warn(
        { peerId, malformed: r.count, windowMs: this.init.windowMs },
        `peer ${peerId} sent ${r.count} malformed statuses within ${this.init.windowMs} ms; disconnected`,
      )
      this.init.onTooMany(peerId)
    }
  }

  private warn(r: PeerRecord, peerId: string, kind: MalformedKind, fields: Record<string, unknown>, now: number): void {
    const w = r.warned.get(kind)
    if (w !== undefined && now - w.at < this.init.warnEveryMs) {
      w.suppressed++
      this.init.onSuppressed?.()
      return
    }
    const suppressed = w?.suppressed ?? 0
    r.warned.set(kind, { at: now, suppressed: 0 })
    const more = suppressed === 0 ? '' : ` (${suppressed} more since the last line, not logged)`
    this.init.log.warn({ peerId, kind, suppressed, ...fields }, `${MESSAGES[kind]}${more}`)
  }

  private recordOf(peerId: string, now: number): PeerRecord {
    let r = this.peers.get(peerId)
    if (r === undefined) {
      if (this.peers.size >= MAX_PEERS) this.peers.delete(this.peers.keys().next().value!)
      r = { windowStart: now, count: 0, dropped: false, warned: new Map() }
      this.peers.set(peerId, r)
    }
    return r
  }
}

const MESSAGES: Record<MalformedKind, string> = {
  not_json: 'status gossip that is not JSON refused',
  too_large: 'status gossip larger than the limit refused',
  schema: 'malformed status gossip refused',
  foreign_peer_id: 'status gossip with a foreign peer id refused',
}
