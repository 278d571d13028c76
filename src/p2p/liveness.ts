import { setMaxListeners } from 'node:events'
import type { IncomingStreamData, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from 'pino'
import { z } from 'zod'
import { P2pError } from './errors.js'
import { type FrameChannel, frameChannel } from './frames.js'
import { type BeatFrame, beatFrame, LIVENESS_PROTOCOL, MAX_LIVENESS_FRAME_BYTES } from './liveness-wire.js'
import type { MembershipView } from './membership-view.js'
import type { MeshLibp2p } from './mesh-node.js'
import { probeTargets } from './probe-schedule.js'
import type { RpcService } from './rpc/rpc-service.js'

/** How many past rounds this process's own lag is taken from (about 3 s at the default interval). */
const LAG_ROUNDS = 8

/**
 * Longest wait for the ping that checks a member another node reported lost
 * (see verify): the report already stands for a whole suspicion window of
 * silence to the reporter and its helpers.
 */
const VERIFY_TIMEOUT_MS = 200

/** The RPC method a node calls to have another node probe a suspect for it. */
export const PROBE_METHOD = 'p2p.probe'

const probeParams = z.strictObject({ node: z.string().min(1).max(100) })

/** A helper's answer: whether it reached the node, and why not. */
export interface ProbeAnswer {
  reachable: boolean
  reason: string | null
}

export interface LivenessProberInit {
  node: MeshLibp2p
  selfName: string
  view: MembershipView
  rpc: RpcService
  log: Logger
  /** How often a round of pings runs (default 400 ms). */
  intervalMs?: number
  /**
   * How many members a round pings besides the suspects (default 1), on a
   * ring all nodes walk in step (see probeTargets): every member is pinged
   * by `fanout` nodes each round, while each node sends a few pings a round
   * instead of one to every member.
   */
  fanout?: number
  /**
   * Longest time between two pings from this node to the same connected
   * member (default 3000 ms); the fanout grows with the cluster to keep it.
   * The membership view counts a member unheard after suspectAfterMs, so this
   * stays well under that (the mesh passes half of it).
   */
  refreshMs?: number
  /** How long one ping may take before it counts as missed (default 400 ms). */
  timeoutMs?: number
  /**
   * How long a suspect has to answer anyone, after its first missed ping,
   * before it is declared offline (default 1000 ms). A node that stalls for
   * less (a GC pause, a SIGSTOP burst, a starved CPU) is never declared offline.
   */
  suspicionMs?: number
  /** How many other members are asked to probe a suspect (default 2). */
  helpers?: number
  /** Probes this node runs at once for other members (default 8); more are refused with ERR_PROBE_BUSY. */
  maxHelping?: number
}

interface Suspicion {
  since: number
  /** Conclusive missed pings in this window. */
  misses: number
  /** Helpers asked and not yet answered. */
  pending: number
  /** The helpers that could not reach it either. */
  denied: string[]
  /** A helper that reached it: the node is alive, only our link to it is not. */
  vouchedBy: string | null
  /** The judge's timer for the end of the window (performance.now() time), while one is set. */
  recheck: { at: number, timer: NodeJS.Timeout } | null
}

/**
 * Liveness from the connections themselves (Lifeguard-like): each interval a
 * few connected members (see fanout) and every suspect are pinged over one long-lived stream per peer (a beat
 * echoed back: one small frame each way, where libp2p's ping protocol opens
 * and negotiates a new stream every time and cost the idle daemon 7% of a core); a missed ping makes it a suspect (degraded)
 * and asks other members to probe it; it is declared offline only when the
 * suspicion window passes with no answer to anyone and no helper reaching it.
 * A ping whose timeout fired late (this process was stalled) proves nothing
 * and is not counted.
 */
export class LivenessProber {
  private readonly intervalMs: number
  private readonly fanout: number
  private readonly refreshMs: number
  /** Members being checked after another member reported them lost (see verify). */
  private readonly verifying = new Set<string>()
  private readonly timeoutMs: number
  private readonly suspicionMs: number
  private readonly helpers: number
  private readonly maxHelping: number
  private timer: NodeJS.Timeout | null = null
  private started = false
  private readonly inFlight = new Set<string>()
  private readonly suspects = new Map<string, Suspicion>()
  /** One ping per peer at a time, shared by our probes and helpers'. */
  private readonly pings = new Map<string, Promise<void>>()
  private readonly links = new Map<string, BeatLink>()
  private helping = 0
  private readonly stopping = new AbortController()
  /** How late each of the last rounds ran (ms): this process's own lag, see localLagMs. */
  private readonly lags: number[] = []
  private lastRoundAt: number | null = null
  /** The last slot of the probe ring this node pinged (see probeTargets). */
  private lastSlot = -Infinity

  constructor(private readonly init: LivenessProberInit) {
    this.intervalMs = init.intervalMs ?? 400
    this.fanout = init.fanout ?? 1
    this.refreshMs = Math.max(this.intervalMs, init.refreshMs ?? 3000)
    this.timeoutMs = init.timeoutMs ?? 400
    this.suspicionMs = init.suspicionMs ?? 1000
    this.helpers = init.helpers ?? 2
    this.maxHelping = init.maxHelping ?? 8
    // Every call to a helper listens on it, many at once in a large cluster: no leak warning past ten.
    setMaxListeners(Infinity, this.stopping.signal)
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    await this.init.node.handle(LIVENESS_PROTOCOL, (data) => this.serve(data), { maxInboundStreams: 2 })
    this.init.rpc.register(PROBE_METHOD, {
      params: probeParams,
      handler: (p, ctx) => this.probeFor(p.node, ctx.caller, ctx.deadlineAt, ctx.signal),
    })
    // The first round pings its own slot only: no slot before the start counts as skipped.
    this.lastSlot = Math.floor(Date.now() / this.intervalMs) - 1
    this.timer = setInterval(() => this.round(), this.intervalMs)
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.stopping.abort()
    for (const name of [...this.suspects.keys()]) this.endSuspicion(name)
    for (const link of this.links.values()) link.close()
    this.links.clear()
    await this.init.node.unhandle(LIVENESS_PROTOCOL).catch(() => {})
  }

  /** The protocol handler start() registers: every beat from a member is echoed; anyone else is closed at once. */
  serve({ stream, connection }: IncomingStreamData): void {
    const peer = connection.remotePeer.toString()
    if (this.init.view.nameOf(peer) === null) {
      // No echo for a non-member. Not counted as a refusal: a member we have not bound yet (its first
      // status still on its way) beats us too, and its beats failing fast count for nothing there.
      this.init.log.debug({ peer }, 'liveness stream from a peer with no bound name closed')
      stream.abort(new P2pError('ERR_UNKNOWN_PEER', 'not a cluster member'))
      return
    }
    const channel = frameChannel(stream, beatFrame, MAX_LIVENESS_FRAME_BYTES)
    const run = async (): Promise<void> => {
      for await (const beat of channel.frames()) channel.send(beat)
      channel.end()
    }
    run().catch((err: unknown) => {
      this.init.log.debug({ peer, err: (err as Error).message }, 'liveness stream ended')
      stream.abort(err as Error)
    })
  }

  /** Whether the node is a suspect right now (tests, diagnostics). */
  isSuspect(name: string): boolean {
    return this.suspects.has(name)
  }

  private round(): void {
    const now = performance.now()
    if (this.lastRoundAt !== null) {
      this.lags.push(Math.max(0, now - this.lastRoundAt - this.intervalMs))
      if (this.lags.length > LAG_ROUNDS) this.lags.shift()
    }
    this.lastRoundAt = now
    const linked = new Map<string, string>()
    const open = this.openPeers()
    const members = this.init.view.peerNames()
    for (const name of members) {
      const peerId = this.init.view.peerIdOf(name)
      if (peerId === null) continue
      if (open.has(peerId)) linked.set(name, peerId)
      else if (this.endSuspicion(name)) {
        // No connection: the redialer says whether it is lost; a suspicion of the old link ends here.
        this.init.view.markSuspect(name, null)
      }
    }
    // Over every member, linked or not, so that all nodes walk the same ring (see probeTargets).
    const count = Math.max(this.fanout, Math.ceil((members.length * this.intervalMs) / this.refreshMs))
    // A slot this timer skipped (it ran late) is caught up, so the walk still covers every member;
    // a second round in the same slot pings only suspects.
    const slot = Math.floor(Date.now() / this.intervalMs)
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
   * Another member reported `name` lost, but it answered this node lately (the
   * view keeps it online for that): ping it now, and take the report if it
   * stays silent too. The reporter already waited out a suspicion window and
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
    const timeoutMs = Math.min(this.timeoutMs, VERIFY_TIMEOUT_MS)
    this.ping(peerId, timeoutMs).then(() => this.acked(name), (err: unknown) => {
      if (this.timer === null || (err as P2pError).code !== 'ERR_PING_TIMEOUT') return
      if (this.firedLate(started, timeoutMs)) return
      const reason = `reported lost by ${by}, and no answer to a ping from ${this.init.selfName} either`
      this.endSuspicion(name)
      this.init.log.warn({ node: name, by }, 'reported lost and silent here too; offline')
      this.init.view.markUnreachable(name, reason)
      this.closeLink(name, reason)
    }).finally(() => this.verifying.delete(name))
  }

  private connected(peerId: string): boolean {
    return this.init.node.getConnections().some((c) => c.status === 'open' && c.remotePeer.toString() === peerId)
  }

  /**
   * The peers this node holds an open connection to. Read from the connections
   * themselves: their peer ids print from a cache, where a peer id parsed from
   * its string each round (base58 and a key decode, then base58 again for the
   * lookup) was most of what an idle round allocated.
   */
  private openPeers(): Set<string> {
    const open = new Set<string>()
    for (const c of this.init.node.getConnections()) if (c.status === 'open') open.add(c.remotePeer.toString())
    return open
  }

  private async probe(name: string, peerId: string): Promise<void> {
    this.inFlight.add(name)
    const started = performance.now()
    // A suspect's ping waits to the end of suspicionMs: a late answer from a starved node still counts.
    // (Not to the end of a longer window: the second miss must come in time for a confirmed suspect.)
    const s = this.suspects.get(name)
    const timeoutMs = s === undefined ? this.timeoutMs : Math.max(this.timeoutMs, s.since + this.suspicionMs - started)
    try {
      await this.ping(peerId, timeoutMs)
      this.acked(name)
    } catch (err) {
      if (this.timer === null) return
      // Only silence is a miss: a stream the peer reset or refused was answered by a live process
      // (a dead one closes the connection, which the redialer handles).
      if ((err as P2pError).code !== 'ERR_PING_TIMEOUT') return
      if (!this.firedLate(started, timeoutMs)) this.missed(name)
    } finally {
      this.inFlight.delete(name)
    }
  }

  /** Whether a ping timeout fired well after it was due: this process stalled, not the peer, so it proves nothing. */
  private firedLate(started: number, timeoutMs: number): boolean {
    return performance.now() - started > timeoutMs + Math.min(200, this.timeoutMs / 2)
  }

  /** Pings a peer, joining a ping already in flight to it, and gives up after timeoutMs either way. */
  private ping(peerId: string, waitMs: number): Promise<void> {
    const timeoutMs = Math.max(1, Math.ceil(waitMs))
    const shared = this.pings.get(peerId)
    if (shared !== undefined) return withTimeout(shared, timeoutMs)
    const p = this.beat(peerId, timeoutMs).finally(() => this.pings.delete(peerId))
    this.pings.set(peerId, p)
    return p
  }

  /** One beat over the peer's liveness stream (opened on first use, again after it broke). */
  private async beat(peerId: string, timeoutMs: number): Promise<void> {
    let link = this.links.get(peerId)
    const started = performance.now()
    if (link === undefined || !link.isOpen) {
      const opening = new AbortController()
      const timer = setTimeout(() => opening.abort(new P2pError('ERR_PING_TIMEOUT', `no liveness stream within ${timeoutMs} ms`)), timeoutMs)
      const stream = await this.init.node.dialProtocol(peerIdFromString(peerId), LIVENESS_PROTOCOL, { signal: opening.signal })
        .catch((err: unknown) => {
          // Silence while opening is a timeout like any other; a refusal is not.
          throw opening.signal.aborted ? opening.signal.reason as P2pError : err
        })
        .finally(() => clearTimeout(timer))
      link = new BeatLink(stream)
      this.links.get(peerId)?.close()
      this.links.set(peerId, link)
      const opened = link
      void opened.closed.then(() => {
        if (this.links.get(peerId) === opened) this.links.delete(peerId)
      })
    }
    await link.beat(Math.max(1, Math.ceil(timeoutMs - (performance.now() - started))))
  }

  private acked(name: string): void {
    if (this.endSuspicion(name)) this.init.log.info({ node: name }, 'suspect answered; online again')
    this.init.view.markAlive(name)
  }

  private missed(name: string): void {
    // A member never heard shows offline ("never heard") already, and its first pings meet it
    // while it (or this process) is still starting: a suspicion then only turns its first status
    // into a false "degraded". It is judged by pings from its first status on.
    if (!this.init.view.heard(name)) return
    let s = this.suspects.get(name)
    if (s === undefined) {
      s = fresh()
      this.suspects.set(name, s)
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
    for (const helper of shuffle(candidates).slice(0, this.helpers)) {
      s.pending++
      this.init.rpc.call(helper, PROBE_METHOD, { node: name }, { timeoutMs: this.suspicionMs, signal: this.stopping.signal })
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
          if (this.suspects.get(name) === s) this.judge(name)
        })
    }
  }

  /** Drops a suspicion and its window's timer; whether there was one. */
  private endSuspicion(name: string): boolean {
    const s = this.suspects.get(name)
    if (s === undefined) return false
    if (s.recheck !== null) clearTimeout(s.recheck.timer)
    this.suspects.delete(name)
    return true
  }

  /** Declares a suspect offline once its window passed with no answer to anyone. */
  private judge(name: string): void {
    const s = this.suspects.get(name)
    // A window's timer that fires after stop() judges nothing.
    if (s === undefined || this.timer === null) return
    if (s.vouchedBy !== null) {
      // Alive, seen by another node: degraded from here, not offline; a new window asks again.
      this.endSuspicion(name)
      const next = fresh()
      this.suspects.set(name, next)
      this.init.view.markSuspect(name, `no answer to pings from ${this.init.selfName}, but ${s.vouchedBy} reaches it`)
      this.askHelpers(name, next)
      return
    }
    const waited = performance.now() - s.since
    const window = this.windowOf(s)
    if (waited < window) {
      // Judged again the moment the window ends, not at the next round (up to an interval later).
      // The window shrinks when a helper's answer comes in: the timer moves up with it.
      const due = s.since + window + 1
      if (s.recheck === null || due < s.recheck.at) {
        if (s.recheck !== null) clearTimeout(s.recheck.timer)
        const timer = setTimeout(() => {
          s.recheck = null
          this.judge(name)
        }, due - performance.now()).unref()
        s.recheck = { at: due, timer }
      }
      return
    }
    if (s.misses < 2 || s.pending > 0) return
    this.endSuspicion(name)
    const confirmed = s.denied.length === 0 ? '' : `, nor to ${s.denied.join(' and ')}`
    const reason = `no answer to pings from ${this.init.selfName}${confirmed} for ${Math.round(waited)} ms`
    this.init.log.warn({ node: name, helpers: s.denied, waitedMs: Math.round(waited), ownLagMs: Math.round(this.localLagMs()) }, 'suspect confirmed unreachable; offline')
    this.init.view.markUnreachable(name, reason)
    // A silent link (a cut, a hung peer) may stay "open" for minutes; closing it hands the node to the redialer.
    this.closeLink(name, reason)
  }

  /**
   * How long a suspect has to answer (Lifeguard's local health, simplified):
   * suspicionMs when a helper could not reach it either, twice that when no
   * helper could say (none online, or all too slow to answer), plus twice the
   * lag this process itself ran with lately. A starved machine (every process
   * late, helpers among them) waits longer instead of declaring its peers
   * offline, which would cost it reconnections it has no CPU for.
   */
  private windowOf(s: Suspicion): number {
    return this.suspicionMs * (s.denied.length > 0 ? 1 : 2) + 2 * this.localLagMs()
  }

  /** The most this process's rounds ran late over the last LAG_ROUNDS rounds (ms). */
  localLagMs(): number {
    return this.lags.length === 0 ? 0 : Math.max(...this.lags)
  }

  private closeLink(name: string, reason: string): void {
    const peerId = this.init.view.peerIdOf(name)
    if (peerId === null) return
    for (const c of this.init.node.getConnections()) {
      if (c.remotePeer.toString() === peerId) c.abort(new P2pError('ERR_PEER_UNREACHABLE', `${name}: ${reason}`))
    }
  }

  /** A helper's side: pings a member over an open connection until the caller's deadline. */
  private async probeFor(name: string, caller: string, deadlineAt: number, signal: AbortSignal): Promise<ProbeAnswer> {
    const peerId = this.init.view.peerIdOf(name)
    if (peerId === null || name === caller) return { reachable: false, reason: `${this.init.selfName} knows no node ${name}` }
    if (!this.connected(peerId)) return { reachable: false, reason: `${this.init.selfName} has no connection to ${name}` }
    if (this.helping >= this.maxHelping) {
      throw new P2pError('ERR_PROBE_BUSY', `${this.init.selfName} is already running ${this.maxHelping} probes for other nodes`)
    }
    this.helping++
    try {
      // Answer well before the caller's own deadline, so a "no" arrives as a no.
      const until = deadlineAt - 200
      while (!signal.aborted && until - Date.now() > 30) {
        try {
          await this.ping(peerId, until - Date.now())
          return { reachable: true, reason: null }
        } catch {
          await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, until - Date.now()))))
        }
      }
      return { reachable: false, reason: `${name} did not answer pings from ${this.init.selfName}` }
    } finally {
      this.helping--
    }
  }
}

/**
 * Our side of one liveness stream: a beat waits for any echo (an echo of an
 * earlier beat, arriving now, proves the peer is alive now just as well).
 */
class BeatLink {
  private readonly channel: FrameChannel<BeatFrame>
  private n = 0
  private readonly waiters = new Set<{ resolve(): void, reject(err: Error): void }>()
  private open = true
  readonly closed: Promise<void>

  constructor(private readonly stream: Stream) {
    this.channel = frameChannel(stream, beatFrame, MAX_LIVENESS_FRAME_BYTES)
    this.closed = this.read()
  }

  get isOpen(): boolean {
    return this.open
  }

  beat(timeoutMs: number): Promise<void> {
    if (!this.open) return Promise.reject(new P2pError('ERR_LINK_CLOSED', 'liveness stream closed'))
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
        reject: (err: Error) => {
          clearTimeout(timer)
          reject(err)
        },
      }
      // A timer we hold: on Node 20 AbortSignal.timeout/any composites can be collected and never fire.
      const timer = setTimeout(() => {
        this.waiters.delete(waiter)
        reject(new P2pError('ERR_PING_TIMEOUT', `no answer within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.add(waiter)
      this.channel.send({ n: ++this.n })
    })
  }

  close(): void {
    this.stream.abort(new P2pError('ERR_LINK_CLOSED', 'liveness stream closed'))
  }

  private async read(): Promise<void> {
    let failure = new P2pError('ERR_LINK_CLOSED', 'peer closed the liveness stream')
    try {
      for await (const _beat of this.channel.frames()) {
        for (const w of this.waiters) w.resolve()
        this.waiters.clear()
      }
    } catch (err) {
      failure = new P2pError('ERR_LINK_CLOSED', `liveness stream failed: ${(err as Error).message}`, { cause: err })
    } finally {
      this.open = false
      for (const w of this.waiters) w.reject(failure)
      this.waiters.clear()
    }
  }
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new P2pError('ERR_PING_TIMEOUT', `no ping answer within ${ms} ms`)), ms)
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

function fresh(): Suspicion {
  return { since: performance.now(), misses: 0, pending: 0, denied: [], vouchedBy: null, recheck: null }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
  return items
}
