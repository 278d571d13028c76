import { setMaxListeners } from 'node:events'
import type { Connection, Stream } from '@libp2p/interface'
import type { Logger } from 'pino'
import { P2pError } from '../errors.js'
import type { MembershipView } from '../membership-view.js'
import type { MeshLibp2p } from '../mesh-node.js'
import type { RpcService } from '../rpc/rpc-service.js'
import { BeatPinger, serveBeats } from './beat-link.js'
import { PROBE_METHOD, type ProbeAnswer, ProbeHelper } from './helper-server.js'
import { probeTargets } from './probe-schedule.js'
import { firedLate, judgeSuspicion, pingTimeoutMs, type Suspicion, Suspicions } from './suspicion.js'
import { LocalHealth } from './local-health.js'
import { LIVENESS_PROTOCOL } from './wire.js'
import type { StalledStream } from '../frames.js'

/** How many past rounds this process's own lag is taken from (about 3 s at the default interval). */
const LAG_ROUNDS = 8

/**
 * Longest wait for the ping that checks a member another node reported lost
 * (see verify): the report already stands for a whole suspicion window of
 * silence to the reporter and its helpers.
 */
const VERIFY_TIMEOUT_MS = 200

/** The tunables of ping liveness; the daemon's config schema holds their defaults (p2p.probe). */
export interface LivenessSettings {
  /** How often a round of pings runs. */
  intervalMs: number
  /**
   * How many members a round pings besides the suspects, on a ring all nodes
   * walk in step (see probeTargets): every member is pinged by `fanout` nodes
   * each round, while each node sends a few pings a round instead of one to
   * every member.
   */
  fanout: number
  /** How long one ping may take before it counts as missed. */
  timeoutMs: number
  /**
   * How long a suspect has to answer anyone, after its first missed ping,
   * before it is declared offline. A node that stalls for less (a GC pause, a
   * SIGSTOP burst, a starved CPU) is never declared offline.
   */
  suspicionMs: number
  /** How many other members are asked to probe a suspect. */
  helpers: number
  /** Probes this node runs at once for other members; more are refused with ERR_PROBE_BUSY. */
  maxHelping: number
}

export interface LivenessProberInit extends LivenessSettings {
  node: MeshLibp2p
  selfName: string
  view: MembershipView
  rpc: RpcService
  log: Logger
  /** Each liveness stream cut off because its peer stopped reading. */
  onStalled?(s: StalledStream): void
  /** This node's own health (Lifeguard's local health awareness); its own by default. */
  health?: LocalHealth
  /**
   * Longest time between two pings from this node to the same connected
   * member; the fanout grows with the cluster to keep it. The membership view
   * counts a member unheard after suspectAfterMs, so this stays well under
   * that (the mesh passes half of it).
   */
  refreshMs: number
}

/**
 * Liveness from the connections themselves (Lifeguard-like): each interval a
 * few connected members (see fanout) and every suspect are pinged over their
 * beat link; a missed ping makes it a suspect (degraded) and asks other
 * members to probe it; it is declared offline only when the suspicion window
 * passes with no answer to anyone and no helper reaching it. A ping whose
 * timeout fired late (this process was stalled) proves nothing and is not
 * counted.
 */
export class LivenessProber {
  private readonly refreshMs: number
  /** Members being checked after another member reported them lost (see verify). */
  private readonly verifying = new Set<string>()
  private timer: NodeJS.Timeout | null = null
  private started = false
  private readonly inFlight = new Set<string>()
  private readonly suspects = new Suspicions()
  private readonly pinger: BeatPinger
  private readonly helper: ProbeHelper
  private readonly stopping = new AbortController()
  /** How late each of the last rounds ran (ms): this process's own lag, see localLagMs. */
  private readonly lags: number[] = []
  private lastRoundAt: number | null = null
  /** The last slot of the probe ring this node pinged (see probeTargets). */
  private lastSlot = -Infinity
  /** This node's own health: its score stretches every timeout here (see LocalHealth). */
  readonly health: LocalHealth

  constructor(private readonly init: LivenessProberInit) {
    this.refreshMs = Math.max(init.intervalMs, init.refreshMs)
    this.pinger = new BeatPinger(init.node, init.onStalled)
    this.health = init.health ?? new LocalHealth()
    this.helper = new ProbeHelper({
      selfName: init.selfName,
      peerIdOf: (name) => init.view.peerIdOf(name),
      connected: (peerId) => this.connected(peerId),
      ping: (peerId, waitMs) => this.pinger.ping(peerId, waitMs),
      maxHelping: init.maxHelping,
    })
    // Every call to a helper listens on it, many at once in a large cluster: no leak warning past ten.
    setMaxListeners(Infinity, this.stopping.signal)
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    await this.init.node.handle(LIVENESS_PROTOCOL, (stream, connection) => this.serve(stream, connection), {
      maxInboundStreams: 2,
    })
    this.helper.register(this.init.rpc)
    // The first round pings its own slot only: no slot before the start counts as skipped.
    this.lastSlot = Math.floor(Date.now() / this.init.intervalMs) - 1
    this.timer = setInterval(() => this.round(), this.init.intervalMs)
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.stopping.abort()
    this.suspects.endAll()
    this.pinger.closeAll()
    await this.init.node.unhandle(LIVENESS_PROTOCOL).catch(() => {})
  }

  /** The protocol handler start() registers: every beat from a member is echoed; anyone else is closed at once. */
  serve(stream: Stream, connection: Connection): void {
    serveBeats(stream, connection, (peerId) => this.init.view.nameOf(peerId) !== null, this.init.log, this.init.onStalled)
  }

  /** Whether the node is a suspect right now (tests, diagnostics). */
  isSuspect(name: string): boolean {
    return this.suspects.has(name)
  }

  /** The most this process's rounds ran late over the last LAG_ROUNDS rounds (ms). */
  localLagMs(): number {
    return this.lags.length === 0 ? 0 : Math.max(...this.lags)
  }

  private round(): void {
    const { intervalMs, view } = this.init
    const now = performance.now()
    if (this.lastRoundAt !== null) {
      const lag = Math.max(0, now - this.lastRoundAt - intervalMs)
      this.lags.push(lag)
      if (this.lags.length > LAG_ROUNDS) this.lags.shift()
      // A round half an interval late: this process's event loop is starved, not its peers.
      if (lag > intervalMs / 2) this.health.worse('late_round')
    }
    this.lastRoundAt = now
    const linked = new Map<string, string>()
    const open = this.openPeers()
    const members = view.peerNames()
    for (const name of members) {
      const peerId = view.peerIdOf(name)
      if (peerId === null) continue
      if (open.has(peerId)) linked.set(name, peerId)
      else if (this.suspects.end(name)) {
        // No connection: the redialer says whether it is lost; a suspicion of the old link ends here.
        view.markSuspect(name, null)
      }
    }
    // Over every member, linked or not, so that all nodes walk the same ring (see probeTargets).
    const count = Math.max(this.init.fanout, Math.ceil((members.length * intervalMs) / this.refreshMs))
    // A slot this timer skipped (it ran late) is caught up, so the walk still covers every member;
    // a second round in the same slot pings only suspects.
    const slot = Math.floor(Date.now() / intervalMs)
    const due = new Set<string>()
    for (let s = Math.max(this.lastSlot + 1, slot - members.length); s <= slot; s++) {
      for (const name of probeTargets(this.init.selfName, members, count, s)) due.add(name)
    }
    this.lastSlot = Math.max(this.lastSlot, slot)
    for (const [name, peerId] of linked) {
      if ((due.has(name) || this.suspects.has(name)) && !this.inFlight.has(name)) void this.probe(name, peerId)
      this.judge(name)
    }
  }

  /**
   * Another member reported `name` lost, but this node can check it (it
   * answered lately, or a link to it is open; the view keeps it as it was):
   * ping it now, and take the report if it stays silent too. The reporter already waited out a suspicion window and
   * asked helpers, so one more silent ping here is enough; without this, the
   * node would stay online here until this node's own schedule reached it.
   * The ping waits at most VERIFY_TIMEOUT_MS: a live node on a sound link
   * answers in milliseconds, and a stall of this process is told apart as in
   * probe (a late timeout proves nothing).
   */
  verify(name: string, by: string): void {
    const peerId = this.init.view.peerIdOf(name)
    if (this.timer === null || peerId === null || this.verifying.has(name) || !this.connected(peerId)) return
    this.verifying.add(name)
    const started = performance.now()
    const timeoutMs = this.health.scale(Math.min(this.init.timeoutMs, VERIFY_TIMEOUT_MS))
    this.pinger.ping(peerId, timeoutMs).then(() => this.acked(name), (err: unknown) => {
      if (this.timer === null || (err as P2pError).code !== 'ERR_PING_TIMEOUT') return
      if (firedLate(performance.now() - started, timeoutMs, this.init.timeoutMs)) return this.health.worse('late_timeout')
      if (!this.health.accuses) return
      const reason = `reported lost by ${by}, and no answer to a ping from ${this.init.selfName} either`
      this.suspects.end(name)
      this.init.log.warn({ node: name, by }, 'reported lost and silent here too; offline')
      this.init.view.markReportConfirmed(name, reason)
      // A silent link is closed, so that the redialer makes a fresh one: a connection that
      // outlived a long cut can take TCP's backoff (a minute and more) to carry data again.
      // Not by a node with any sign of its own slowness: on a starved machine the closes and
      // the handshakes that follow them were what kept the mesh from settling.
      if (this.health.score === 0) this.closeLink(name, reason)
    }).finally(() => this.verifying.delete(name))
  }

  /**
   * Whether this node can check a report of the member now: a running
   * prober, an open link, and a local health that lets a miss count (an
   * overloaded node's check could only end in nothing, and the report is
   * better taken as it stands).
   */
  canVerify(name: string): boolean {
    const peerId = this.init.view.peerIdOf(name)
    return this.timer !== null && peerId !== null && this.health.accuses && this.connected(peerId)
  }

  private connected(peerId: string): boolean {
    return this.init.node.getConnections().some((c) => c.status === 'open' && c.remotePeer.toString() === peerId)
  }

  /**
   * The peers this node holds an open connection to. Read from the connections
   * themselves: their peer ids print from a cache, where a peer id parsed from
   * its string each round (base58 and a key decode, then base58 again for the
   * lookup) would be most of what an idle round allocates.
   */
  private openPeers(): Set<string> {
    const open = new Set<string>()
    for (const c of this.init.node.getConnections()) if (c.status === 'open') open.add(c.remotePeer.toString())
    return open
  }

  private async probe(name: string, peerId: string): Promise<void> {
    this.inFlight.add(name)
    const started = performance.now()
    const { timeoutMs: base, suspicionMs } = this.init
    const timeoutMs = pingTimeoutMs(this.suspects.get(name), started, this.health.scale(base), this.health.scale(suspicionMs))
    try {
      await this.pinger.ping(peerId, timeoutMs)
      this.health.better()
      this.acked(name)
    } catch (err) {
      if (this.timer === null) return
      // Only silence is a miss: a stream the peer reset or refused was answered by a live process
      // (a dead one closes the connection, which the redialer handles).
      if ((err as P2pError).code !== 'ERR_PING_TIMEOUT') return
      if (firedLate(performance.now() - started, timeoutMs, this.init.timeoutMs)) this.health.worse('late_timeout')
      // An unhealthy node's misses are more likely its own: it accuses no one (Lifeguard).
      else if (this.health.accuses) this.missed(name)
    } finally {
      this.inFlight.delete(name)
    }
  }

  private acked(name: string): void {
    if (this.suspects.end(name)) this.init.log.info({ node: name }, 'suspect answered; online again')
    this.init.view.markAlive(name)
  }

  private missed(name: string): void {
    // A member never heard shows offline ("never heard") already, and its first pings meet it
    // while it (or this process) is still starting: a suspicion then only turns its first status
    // into a false "degraded". It is judged by pings from its first status on.
    if (!this.init.view.heard(name)) return
    let s = this.suspects.get(name)
    if (s === undefined) {
      s = this.suspects.begin(name, performance.now())
      this.init.view.markSuspect(name, `missed a ping from ${this.init.selfName}; asking other nodes`)
      this.askHelpers(name, s)
    }
    s.misses++
    this.judge(name)
  }

  private askHelpers(name: string, s: Suspicion): void {
    const view = this.init.view
    const open = this.openPeers()
    const candidates = view.peerNames().filter((n) => {
      const id = n === name ? null : view.peerIdOf(n)
      return id !== null && view.stateOf(n) === 'online' && open.has(id)
    })
    for (const helper of shuffle(candidates).slice(0, this.init.helpers)) {
      s.pending++
      this.init.rpc.call(helper, PROBE_METHOD, { node: name }, { timeoutMs: this.init.suspicionMs, signal: this.stopping.signal })
        .then((res) => {
          const answer = res as ProbeAnswer
          if (answer.reachable) s.vouchedBy = helper
          else s.denied.push(helper)
        }, (err: unknown) => {
          // A helper that cannot answer confirms nothing either way.
          this.init.log.debug({ node: name, helper, err: (err as Error).message }, 'probe helper did not answer')
        })
        .finally(() => {
          s.pending--
          // Nobody could say either way: the helpers are as unreachable as the suspect, so the
          // trouble is likelier here (Lifeguard counts a probe with no nack against itself).
          if (s.pending === 0 && s.vouchedBy === null && s.denied.length === 0) this.health.worse('unconfirmed_miss')
          if (this.suspects.get(name) === s) this.judge(name)
        })
    }
  }

  /** Acts on a suspect's verdict: a new window, a recheck timer, or offline. */
  private judge(name: string): void {
    const s = this.suspects.get(name)
    // A window's timer that fires after stop() judges nothing.
    if (s === undefined || this.timer === null) return
    const now = performance.now()
    const verdict = judgeSuspicion(s, now, this.health.scale(this.init.suspicionMs), this.localLagMs())
    switch (verdict.kind) {
      case 'vouched': {
        // Alive, seen by another node: degraded from here, not offline; a new window asks again.
        const next = this.suspects.begin(name, now)
        this.init.view.markSuspect(name, `no answer to pings from ${this.init.selfName}, but ${verdict.by} reaches it`)
        this.askHelpers(name, next)
        return
      }
      case 'wait':
        this.suspects.recheckAt(name, verdict.dueAt, now, () => this.judge(name))
        return
      case 'undecided':
        return
      case 'offline': {
        this.suspects.end(name)
        const waited = Math.round(verdict.waitedMs)
        const confirmed = s.denied.length === 0 ? '' : `, nor to ${s.denied.join(' and ')}`
        const reason = `no answer to pings from ${this.init.selfName}${confirmed} for ${waited} ms`
        this.init.log.warn({ node: name, helpers: s.denied, waitedMs: waited, ownLagMs: Math.round(this.localLagMs()) }, 'suspect confirmed unreachable; offline')
        this.init.view.markUnreachable(name, reason)
        // A silent link (a cut, a hung peer) may stay "open" for minutes; closing it hands the node to the redialer.
        this.closeLink(name, reason)
      }
    }
  }

  private closeLink(name: string, reason: string): void {
    const peerId = this.init.view.peerIdOf(name)
    if (peerId === null) return
    for (const c of this.init.node.getConnections()) {
      if (c.remotePeer.toString() === peerId) c.abort(new P2pError('ERR_PEER_UNREACHABLE', `${name}: ${reason}`))
    }
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
  return items
}
