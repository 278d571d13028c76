import { setMaxListeners } from 'node:events'
import type { Connection, PeerId } from '@libp2p/interface'
import { anySignal } from 'any-signal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import { P2pError } from './errors.js'
import { DEFAULT_DIAL_TIMEOUT_MS, type MeshLibp2p } from './mesh-node.js'
import { peerMultiaddr } from './peer-address.js'

/** A connection the peer closes sooner than this after it was made counts as a failed dial. */
const QUICK_CLOSE_MS = 1000

/** First retry delay after a failed dial, doubling per failure. */
export const DEFAULT_MIN_BACKOFF_MS = 250

/**
 * The first dials of all configured peers are spread over this much per peer
 * (at most START_SPREAD_MAX_MS): 50 daemons starting together each dialled
 * 49 peers in the same instant, and the handshakes starved their liveness.
 */
export const START_SPREAD_PER_PEER_MS = 10
export const START_SPREAD_MAX_MS = 1000

/** Longest delay between dials of an unreachable peer. */
export const DEFAULT_MAX_BACKOFF_MS = 5000

/** How often a connected peer is re-checked when no disconnect event arrives. */
export const DEFAULT_CHECK_INTERVAL_MS = 5000

/**
 * Dials this node has in flight at once; the others wait their turn, and a
 * dial's timeout runs only once it started. 50 daemons on two cores each
 * dialling 49 peers at once all timed out half-way through their handshakes
 * (1,468 timeouts in a minute, the mesh never formed): the work done was
 * thrown away and redone. A few dials at a time finish; a peer that dialled
 * us meanwhile is not dialled at all.
 */
export const DEFAULT_MAX_PARALLEL_DIALS = 4

export interface PeerRedialerInit {
  node: MeshLibp2p
  peers: readonly { name: string, address: string }[]
  log: Logger
  /** The peer id bound to a name: once known, only that peer is accepted at the address. */
  peerIdOf?(name: string): string | null
  /** Called with the peer that answered at a configured peer's address. */
  onConnected?(name: string, peerId: string): void
  /** Dials in flight at once (default DEFAULT_MAX_PARALLEL_DIALS). */
  maxParallelDials?: number
  /** How long one dial may take, handshakes included (default DEFAULT_DIAL_TIMEOUT_MS). */
  dialTimeoutMs?: number
  /**
   * What the dial timeout is multiplied by right now (this node's local
   * health): an overloaded node's handshakes run slow, and cutting them off
   * only makes it start them again. Default 1.
   */
  slack?(): number
  /** First retry delay after a failed dial (default DEFAULT_MIN_BACKOFF_MS). */
  minBackoffMs?: number
  /** Longest delay between dials of an unreachable peer (default DEFAULT_MAX_BACKOFF_MS). */
  maxBackoffMs?: number
  /**
   * How often a connected peer is re-checked when no disconnect event arrives
   * (default DEFAULT_CHECK_INTERVAL_MS). A safety net only: libp2p's peer:disconnect wakes the
   * loop at once, so a shorter check only wakes an idle daemon once a second per peer.
   */
  checkIntervalMs?: number
  /**
   * Called when a peer we were connected to cannot be redialled at once: a
   * crashed process closes its sockets, so this learns of it long before the
   * status timers do.
   */
  onLost?(name: string, reason: string): void
}

interface Target {
  name: string
  address: Multiaddr
  peerId: PeerId | null
  wake: (() => void) | null
}

/** At most `max` holders at once; the others wait in the order they came. */
class DialSlots {
  private free: number
  private readonly waiting: (() => void)[] = []

  constructor(max: number) {
    this.free = Math.max(1, max)
  }

  /** Resolves with the release function once a slot is free; rejects if the signal aborts first. */
  async take(signal: AbortSignal): Promise<() => void> {
    if (this.free > 0) {
      this.free--
      return this.releaser()
    }
    await new Promise<void>((resolve, reject) => {
      const turn = (): void => {
        signal.removeEventListener('abort', abort)
        resolve()
      }
      const abort = (): void => {
        this.waiting.splice(this.waiting.indexOf(turn), 1)
        reject(signal.reason)
      }
      this.waiting.push(turn)
      signal.addEventListener('abort', abort, { once: true })
    })
    return this.releaser()
  }

  private releaser(): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiting.shift()
      if (next === undefined) this.free++
      else next()
    }
  }
}

/**
 * Keeps a connection to every configured peer for as long as it is configured.
 * libp2p's own reconnect queue gives up after a few tries (two nodes cut off
 * for a couple of minutes would never reconnect), so this loop never does: capped
 * exponential backoff with jitter, woken at once by a disconnect.
 */
export class PeerRedialer {
  private readonly targets: Target[]
  private readonly slots: DialSlots
  private controller: AbortController | null = null
  private started = false
  private loops: Promise<void>[] = []
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const gone = evt.detail.toString()
    for (const t of this.targets) if (this.peerIdOf(t) === gone) t.wake?.()
  }

  constructor(private readonly init: PeerRedialerInit) {
    this.targets = init.peers.map((p) => ({ name: p.name, address: peerMultiaddr(p.address), peerId: null, wake: null }))
    this.slots = new DialSlots(init.maxParallelDials ?? DEFAULT_MAX_PARALLEL_DIALS)
  }

  start(): void {
    if (this.started) return
    this.started = true
    this.controller = new AbortController()
    this.init.node.addEventListener('peer:disconnect', this.onDisconnect)
    const signal = this.controller.signal
    // Every peer's loop waits on this one signal: with more than ten peers Node warned of a leak.
    setMaxListeners(Infinity, signal)
    this.loops = this.targets.map((t) =>
      this.keep(t, signal).catch((err: unknown) => this.init.log.error({ err, peer: t.name }, 'redial loop ended')))
  }

  async stop(): Promise<void> {
    if (!this.started || this.controller === null) return
    this.started = false
    this.controller.abort()
    this.init.node.removeEventListener('peer:disconnect', this.onDisconnect)
    await Promise.all(this.loops)
    this.controller = null
    this.loops = []
  }

  /** The peer id of a target: the one that answered our dial, else the one its name is bound to. */
  private peerIdOf(t: Target): string | null {
    return t.peerId?.toString() ?? this.init.peerIdOf?.(t.name) ?? null
  }

  /** Whether a connection to the target is open, ours or one it made to us. */
  private connected(t: Target): boolean {
    const id = this.peerIdOf(t)
    return id !== null && this.init.node.getConnections().some((c) => c.status === 'open' && c.remotePeer.toString() === id)
  }

  private async keep(t: Target, signal: AbortSignal): Promise<void> {
    const { node, log } = this.init
    const min = this.init.minBackoffMs ?? DEFAULT_MIN_BACKOFF_MS
    const max = this.init.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS
    let failures = 0
    let wasConnected = false
    /** When the connection this loop made was made (null: none held). */
    let heldSince: number | null = null
    /** Whether the last failure was such a quick close (its reconnects are logged at debug). */
    let closedQuickly = false
    const spread = Math.min(START_SPREAD_MAX_MS, START_SPREAD_PER_PEER_MS * this.targets.length)
    if (this.targets.length > 1) await this.pause(t, Math.random() * spread, signal)
    while (!signal.aborted) {
      if (this.connected(t)) {
        wasConnected = true
        await this.pause(t, this.init.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS, signal)
        continue
      }
      try {
        if (heldSince !== null) {
          const held = performance.now() - heldSince
          heldSince = null
          // A peer that closes our connection as soon as it is made (its allowlist or gater refusing
          // us) must not be redialled at once, for ever: that counts as a failed dial, with backoff.
          if (held < QUICK_CLOSE_MS) {
            throw new P2pError('ERR_PEER_CLOSED_AT_ONCE', `the peer closed the connection ${Math.round(held)} ms after it was made (refused by its allowlist, or a false claim?)`)
          }
          failures = 0
        }
        const release = await this.slots.take(signal)
        let conn: Connection
        try {
          // The peer may have dialled us while this dial waited for its turn.
          if (this.connected(t)) continue
          const bound = this.init.peerIdOf?.(t.name) ?? null
          // With the id in the address the handshake fails if another peer answers there.
          const address = bound === null ? t.address : t.address.encapsulate(`/p2p/${bound}`)
          const timeoutMs = (this.init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS) * (this.init.slack?.() ?? 1)
          const dialSignal = anySignal([signal, AbortSignal.timeout(timeoutMs)])
          conn = await node.dial(address, { signal: dialSignal }).finally(() => dialSignal.clear())
        } finally {
          release()
        }
        // A gated peer's dial can look successful with no connection kept; only a held one counts.
        if (conn.status !== 'open' || node.getConnections(conn.remotePeer).length === 0) {
          throw new Error('connection was not kept (refused by the peer or by our allowlist)')
        }
        if (t.peerId !== null && !t.peerId.equals(conn.remotePeer)) {
          log.warn({ peer: t.name, was: t.peerId.toString(), now: conn.remotePeer.toString() }, 'peer answered with a new peer id')
        }
        t.peerId = conn.remotePeer
        heldSince = performance.now()
        this.init.onConnected?.(t.name, t.peerId.toString())
        const connected = { peer: t.name, peerId: t.peerId.toString(), afterFailures: failures }
        if (closedQuickly) log.debug(connected, 'connected to peer again')
        else log.info(connected, 'connected to peer')
      } catch (err) {
        if (signal.aborted) return
        closedQuickly = (err as P2pError).code === 'ERR_PEER_CLOSED_AT_ONCE'
        failures++
        if (wasConnected) this.init.onLost?.(t.name, `connection lost and redial failed: ${(err as Error).message}`)
        wasConnected = false
        const fields = { peer: t.name, address: t.address.toString(), err: (err as Error).message, failures }
        if (failures === 1) log.warn(fields, `peer ${t.name} unreachable at ${t.address.toString()}; redialling with backoff`)
        else log.debug(fields, 'redial failed')
        const delay = Math.min(max, min * 2 ** Math.min(failures - 1, 16))
        await this.pause(t, delay / 2 + Math.random() * (delay / 2), signal)
      }
    }
  }

  /** Waits up to ms; returns early on stop or when the peer disconnects. */
  private async pause(t: Target, ms: number, signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        t.wake = null
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      t.wake = done
    })
  }
}
