import type { NameBindings } from './name-bindings.js'
import { formatUptime, type NodeStatus, type RegistryFingerprint } from './node-status.js'

/** How a node looks from here. */
export type NodeState = 'online' | 'degraded' | 'offline'

/** A change of one node's state in this daemon's view. */
export interface NodeTransition {
  name: string
  from: NodeState | null
  to: NodeState
  reason: string | null
}

/** One row of GET /nodes: seed 000's nodes_status entry plus identity and freshness. */
export interface NodeView {
  name: string
  status: NodeState
  block_height: number | null
  mempool_size: number | null
  p2p_connections: number | null
  /** Names of the members the node is connected to, as it last said (null if never heard). */
  links: string[] | null
  service_uptime: string | null
  last_sync: number | null
  /** The peer id the name is bound to (configured or pinned); statuses from any other id are refused. */
  peer_id: string | null
  /** How the name is bound to its peer id: configured, pinned on first sight, or not yet. */
  identity: 'configured' | 'pinned' | null
  /** The last refused claim of this name by another peer id, or null. */
  identity_conflict: string | null
  address: string | null
  version: string | null
  git_head: string | null
  coordinator_url: string | null
  /** Milliseconds since this daemon last heard the node; 0 for itself, null if never. */
  last_seen_ms: number | null
  /** Why the node is not online (unheard, its own problems), or null. */
  reason: string | null
  /** Set when the node's Redis registry is not ours: the outage this check exists for. */
  registry_mismatch: string | null
  self: boolean
}

export interface MembershipViewInit {
  selfName: string
  suspectAfterMs: number
  offlineAfterMs: number
  /**
   * What both are multiplied by right now (this node's local health, see
   * LocalHealth): an overloaded node waits longer before it calls a member
   * unheard. Default 1.
   */
  slack?(): number
  /** Configured peers, shown (offline) even before they are first heard. */
  peers: readonly { name: string, address: string }[]
  /** Who may speak as which name; the view only holds configured or bound names. */
  bindings: NameBindings
  /** The status this node publishes, for its own row. */
  selfStatus(): NodeStatus
  /**
   * This node's registry, compared with each status heard (default: from
   * selfStatus, which also walks the connections: a tenth of the view's
   * time in a forming cluster).
   */
  selfRegistry?(): RegistryFingerprint
  /** Called for every state change (logging, metrics). */
  onTransition?(t: NodeTransition): void
  /** Called when a node's registry starts or stops differing from ours. */
  onRegistryMismatch?(name: string, mismatch: string | null): void
  /** Called when this node itself finds a member gone (lost or unreachable): worth a status at once. */
  onFirstHandLoss?(name: string): void
  /**
   * Called when another member reports a node lost that this node can check
   * itself (it answered a ping lately, or canCheck says so): the report is
   * not taken; the callee pings the node and marks it unreachable if it is
   * silent here too.
   */
  onReportDisputed?(name: string, by: string): void
  /** Whether this node holds a link to the member it can ping now (default: none). */
  canCheck?(name: string): boolean
  /**
   * Called when another member reports this node lost: a status published now
   * (a newer seq) clears the report wherever it was taken (SWIM's refutation).
   */
  onAccused?(by: string): void
  now?(): number
}

/** A ping answered this recently outweighs another node's report that the member is gone. */
const FRESH_PING_MS = 1500

interface Member {
  name: string
  address: string | null
  status: NodeStatus | null
  heardAt: number | null
  state: NodeState
  reason: string | null
  mismatch: string | null
  /** Set when the connection dropped and a redial failed; cleared by the next status heard. */
  lost: string | null
  /** When a ping last came back (liveness between statuses), or null. */
  aliveAt: number | null
  /** Why it is a suspect (missed pings, not yet confirmed), or null. */
  suspect: string | null
  /** Set when a suspicion was confirmed; cleared by a ping answered or a newer status. */
  unreachable: string | null
  /** Set when another member reported it lost after the last status we had; cleared by a newer status or a ping. */
  reported: string | null
}

/**
 * Every node this daemon knows, with the state derived from when it was last
 * heard or answered a ping: degraded after suspectAfterMs (or when it reports
 * trouble, or missed pings), offline after offlineAfterMs (or when a suspicion
 * was confirmed, see LivenessProber). Ages use this daemon's monotonic clock,
 * never the sender's.
 */
export class MembershipView {
  private readonly members = new Map<string, Member>()
  private readonly now: () => number

  constructor(private readonly init: MembershipViewInit) {
    this.now = init.now ?? (() => performance.now())
    for (const p of init.peers) {
      if (p.name === init.selfName) continue
      this.members.set(p.name, { ...blank(p.name), address: p.address })
    }
  }

  /**
   * Takes a gossiped status whose signer was admitted for its name (see
   * NameBindings.admit); older or own statuses are ignored. Returns whether it was used.
   */
  observe(status: NodeStatus): boolean {
    if (status.name === this.init.selfName) return false
    if (this.init.bindings.peerIdOf(status.name) !== status.peer_id) return false
    let member = this.members.get(status.name)
    if (member === undefined) {
      member = blank(status.name)
      this.members.set(status.name, member)
    }
    const prev = member.status
    if (prev !== null && prev.peer_id === status.peer_id && prev.started_at === status.started_at && prev.seq >= status.seq) {
      return false
    }
    member.status = status
    member.heardAt = this.now()
    member.lost = null
    member.unreachable = null
    member.reported = null
    this.checkRegistry(member)
    this.evaluate(member)
    for (const gone of status.lost) this.takeReport(status.name, gone)
    return true
  }

  /**
   * Another member says it lost `gone.name` after the status it names: offline here
   * too unless we heard the node since, or can check it ourselves (a ping
   * answered just now, or a link to ping it on). A report of this node itself
   * is refuted with a fresh status.
   */
  private takeReport(by: string, gone: NodeStatus['lost'][number]): void {
    if (gone.name === by) return
    if (gone.name === this.init.selfName) {
      // Only a report of the status last published: a newer one is already on its way there, and
      // a seq this node never published is no report of it at all.
      const me = this.init.selfStatus()
      if (gone.started_at === me.started_at && gone.seq === me.seq) this.init.onAccused?.(by)
      return
    }
    const m = this.members.get(gone.name)
    const mine = m?.status
    if (m === undefined || mine === undefined || mine === null) return
    if (mine.started_at > gone.started_at || (mine.started_at === gone.started_at && mine.seq > gone.seq)) return
    if (m.reported !== null) return
    // One member's word does not take a node offline where it can be checked: an overloaded
    // reporter would otherwise take a live node offline in every view at once.
    if ((m.aliveAt !== null && this.now() - m.aliveAt < FRESH_PING_MS) || (this.init.canCheck?.(gone.name) ?? false)) {
      this.init.onReportDisputed?.(gone.name, by)
      return
    }
    m.reported = `reported lost by ${by}, and not heard here since`
    this.evaluate(m)
  }

  /** Members this node itself found gone, with the last status it had of each (published in its status as lost). */
  lostHere(): NodeStatus['lost'] {
    return [...this.members.values()].flatMap((m) => ((m.lost !== null || m.unreachable !== null) && m.status !== null
      ? [{ name: m.name, started_at: m.status.started_at, seq: m.status.seq }] : []))
  }

  /** Marks a node offline at once (its connection dropped and could not be re-made) until it is heard again. */
  markLost(name: string, reason: string): void {
    const m = this.members.get(name)
    if (m === undefined) return
    const first = m.lost === null
    m.lost = reason
    this.evaluate(m)
    if (first) this.init.onFirstHandLoss?.(name)
  }

  /** A ping came back: the node is alive now, whatever was suspected of it. */
  markAlive(name: string): void {
    const m = this.members.get(name)
    if (m === undefined) return
    m.aliveAt = this.now()
    m.suspect = null
    m.unreachable = null
    m.lost = null
    m.reported = null
    this.evaluate(m)
  }

  /** The node missed pings and is not yet confirmed down (degraded), or null when the suspicion ends. */
  markSuspect(name: string, reason: string | null): void {
    const m = this.members.get(name)
    if (m === undefined) return
    m.suspect = reason
    this.evaluate(m)
  }

  /**
   * A report of another member's loss, checked here and found true (see
   * LivenessProber.verify): offline until heard again, like a report taken as
   * it stands. Second-hand, so not passed on: a check that failed only
   * because this node is slow must not start a loss report of its own.
   */
  markReportConfirmed(name: string, reason: string): void {
    const m = this.members.get(name)
    if (m === undefined) return
    m.suspect = null
    m.reported = reason
    this.evaluate(m)
  }

  /** A suspicion was confirmed (nobody reached it in the window): offline until it answers or is heard again. */
  markUnreachable(name: string, reason: string): void {
    const m = this.members.get(name)
    if (m === undefined) return
    const first = m.unreachable === null
    m.suspect = null
    m.unreachable = reason
    this.evaluate(m)
    if (first) this.init.onFirstHandLoss?.(name)
  }

  /** Re-derives every state from the clock and drops names no longer bound (forgotten); run it often. */
  tick(): void {
    for (const m of this.members.values()) {
      if (m.address === null && !this.init.bindings.isKnown(m.name)) this.members.delete(m.name)
      else this.evaluate(m)
    }
  }

  /** The peer id bound to a node's name, if any: the only one its traffic is accepted from. */
  peerIdOf(name: string): string | null {
    return this.init.bindings.peerIdOf(name)
  }

  /** The bound name of an authenticated peer id, or null for a peer that is not a cluster member. */
  nameOf(peerId: string): string | null {
    return this.init.bindings.nameOf(peerId)
  }

  /** The configured address of a node, if any. */
  addressOf(name: string): string | null {
    return this.members.get(name)?.address ?? null
  }

  /** Names of every other node, configured or heard. */
  peerNames(): string[] {
    return [...this.members.keys()].sort()
  }

  has(name: string): boolean {
    return name === this.init.selfName || this.members.has(name)
  }

  /** Whether a status of the node was ever taken (until then it shows offline, "never heard"). */
  heard(name: string): boolean {
    return (this.members.get(name)?.heardAt ?? null) !== null
  }

  stateOf(name: string): NodeState | null {
    return this.members.get(name)?.state ?? null
  }

  /** Registry mismatches currently seen, one line each. */
  registryMismatches(): string[] {
    return [...this.members.values()].flatMap((m) => (m.mismatch === null ? [] : [m.mismatch]))
  }

  /** The whole view, this node first, then by name. */
  snapshot(): NodeView[] {
    const selfStatus = this.init.selfStatus()
    const self = toView(selfStatus, {
      state: selfStatus.health === 'ok' ? 'online' : 'degraded',
      reason: selfStatus.problems.join('; ') || null,
      address: selfStatus.addresses[0] ?? null,
      ageMs: 0,
      mismatch: null,
      self: true,
      identity: 'configured',
      conflict: this.init.bindings.selfConflict,
    })
    const now = this.now()
    const others = [...this.members.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((m) => toView(m.status, {
        name: m.name,
        state: m.state,
        reason: m.reason,
        address: m.address ?? m.status?.addresses[0] ?? null,
        ageMs: m.heardAt === null ? null : Math.round(now - lastSign(m)),
        // A connected member's status is re-sent only on change: its uptime has run on since.
        sinceStatusMs: m.heardAt === null ? 0 : now - m.heardAt,
        mismatch: m.mismatch,
        self: false,
        identity: this.init.bindings.sourceOf(m.name),
        conflict: this.init.bindings.conflictOf(m.name),
        peerId: this.init.bindings.peerIdOf(m.name),
      }))
    return [self, ...others]
  }

  private evaluate(m: Member): void {
    let state: NodeState
    let reason: string | null
    const age = m.heardAt === null ? null : this.now() - lastSign(m)
    const slack = this.init.slack?.() ?? 1
    if (age === null) {
      state = 'offline'
      reason = 'never heard'
    } else if (m.unreachable !== null) {
      state = 'offline'
      reason = m.unreachable
    } else if (m.lost !== null) {
      state = 'offline'
      reason = m.lost
    } else if (m.reported !== null) {
      state = 'offline'
      reason = m.reported
    } else if (age >= this.init.offlineAfterMs * slack) {
      state = 'offline'
      reason = `unheard for ${Math.round(age)} ms`
    } else if (m.suspect !== null) {
      state = 'degraded'
      reason = m.suspect
    } else if (age >= this.init.suspectAfterMs * slack) {
      state = 'degraded'
      reason = `unheard for ${Math.round(age)} ms`
    } else if (m.status?.health === 'degraded') {
      state = 'degraded'
      reason = m.status.problems.join('; ') || 'reports itself degraded'
    } else {
      state = 'online'
      reason = null
    }
    const from = m.state
    const changed = state !== m.state
    m.state = state
    m.reason = reason
    if (changed) this.init.onTransition?.({ name: m.name, from, to: state, reason })
  }

  private checkRegistry(m: Member): void {
    const mine = this.init.selfRegistry?.() ?? this.init.selfStatus().registry
    const theirs = m.status?.registry
    let mismatch: string | null = null
    if (theirs !== undefined && mine.cluster_id !== null && theirs.cluster_id !== null && mine.cluster_id !== theirs.cluster_id) {
      mismatch = `${m.name} uses a different Redis registry than ${this.init.selfName} (${describe(theirs)} vs ${describe(mine)})`
    }
    if (mismatch !== m.mismatch) {
      m.mismatch = mismatch
      this.init.onRegistryMismatch?.(m.name, mismatch)
    }
  }
}

function blank(name: string): Member {
  return {
    name, address: null, status: null, heardAt: null, state: 'offline', reason: 'never heard', mismatch: null,
    lost: null, aliveAt: null, suspect: null, unreachable: null, reported: null,
  }
}

/** When the node last showed it was alive: its last status or its last ping answered. */
function lastSign(m: Member): number {
  return Math.max(m.heardAt ?? -Infinity, m.aliveAt ?? -Infinity)
}

function describe(r: RegistryFingerprint): string {
  return `${r.host} db ${r.db} prefix "${r.prefix}" cluster ${r.cluster_id}`
}

interface ViewExtras {
  name?: string
  state: NodeState
  reason: string | null
  address: string | null
  ageMs: number | null
  /** How long ago the status was heard (0 for this node's own). */
  sinceStatusMs?: number
  mismatch: string | null
  self: boolean
  identity: NodeView['identity']
  conflict: string | null
  peerId?: string | null
}

function toView(s: NodeStatus | null, x: ViewExtras): NodeView {
  return {
    name: x.name ?? s?.name ?? '',
    status: x.state,
    block_height: s?.chain?.height ?? null,
    mempool_size: s?.chain?.mempool_size ?? null,
    p2p_connections: s?.p2p_connections ?? null,
    links: s?.links ?? null,
    service_uptime: s === null ? null : formatUptime(s.uptime_s + Math.floor((x.sinceStatusMs ?? 0) / 1000)),
    last_sync: s?.last_sync ?? null,
    peer_id: x.peerId ?? s?.peer_id ?? null,
    identity: x.identity,
    identity_conflict: x.conflict,
    address: x.address,
    version: s?.version ?? null,
    git_head: s?.git_head ?? null,
    coordinator_url: s?.coordinator_url ?? null,
    last_seen_ms: x.ageMs,
    reason: x.reason,
    registry_mismatch: x.mismatch,
    self: x.self,
  }
}
