import type { PeerId } from '@libp2p/interface'
import { type Message, type SubscriptionChangeData, TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger } from 'pino'
import { P2pError } from './errors.js'
import type { MalformedKind } from './malformed-statuses.js'
import type { MembershipView } from './membership-view.js'
import type { NameBindings, Refusal } from './name-bindings.js'
import type { MeshLibp2p } from './mesh-node.js'
import { type LocalStatus, MAX_STATUS_BYTES, type NodeStatus, nodeStatus, STATUS_TOPIC } from './node-status.js'

export interface StatusGossipInit {
  node: MeshLibp2p
  selfName: string
  version: string
  /** How often the status is checked for a change (published at once if it changed). */
  intervalMs: number
  /** Longest time between two publishes of an unchanged status (default: intervalMs). */
  keepaliveMs?: number
  /**
   * The same while this node has an open connection to every member it knows
   * (default: keepaliveMs). Each of them pings it over that connection, which
   * keeps it fresh in their views; the status is then only news, sent on change.
   */
  linkedKeepaliveMs?: number
  /** What the daemon knows about itself right now (chain, registry, ops...). */
  local(): LocalStatus
  view: MembershipView
  bindings: NameBindings
  log: Logger
  /** Called when a directly connected peer made a claim that was refused (the mesh closes it). */
  onRefusedPeer?(refusal: Refusal): void
  /** Each status published by this node, and each one heard: taken into the view, or not newer than the last. */
  onStatus?(event: StatusEvent): void
  /**
   * Sends this node's last published status to one member over its own
   * connection (see STATUS_PUSH_METHOD). Without it, or when it fails (a
   * member that does not know us yet, or runs a release without the method),
   * a member that subscribes gets a publish to every node instead.
   */
  push?(name: string, status: NodeStatus): Promise<unknown>
  /** Counts and logs (rate-limited) a malformed status by the peer it came from (see MalformedStatuses). */
  malformed: { record(peerId: string, kind: MalformedKind, fields: Record<string, unknown>): void }
}

/** What happened to a status (aitbc_p2p_statuses_total). */
export type StatusEvent = 'published' | 'taken' | 'stale'

/**
 * Announces to members that subscribe (see subscriptionChanged) are at most
 * this often: in a cluster starting together each node saw a subscription a
 * second for a minute, and its announces, each flooded to every node, were
 * most of the statuses sent.
 */
export const ANNOUNCE_MIN_INTERVAL_MS = 1000

/**
 * Refutations (a fresh status because a member reported this node lost) are
 * at most this often: every member that took the report clears it on the
 * first, and a reporter that keeps repeating it must not make us publish at its pace.
 */
export const REFUTE_MIN_INTERVAL_MS = 1000
/**
 * The RPC method that hands a member our status directly (see
 * StatusGossip.receivePushed): what a node that just connected needs from us,
 * without a publish flooded to every node for its sake.
 */
export const STATUS_PUSH_METHOD = 'p2p.status'

/** How long a push may take before the status is published instead. */
export const STATUS_PUSH_TIMEOUT_MS = 2000

/** A member's pushed statuses are taken at most this often; more are answered with ERR_STATUS_PUSH_RATE. */
export const PUSH_MIN_INTERVAL_MS = 250

/** Statuses sent to a linked node over its connection before the linked keepalive may start. */
const SENT_BEFORE_LINKED = 2

/**
 * Publishes this node's status on the gossip topic when it changes (checked
 * every interval) and at least every keepalive, and feeds what it hears into
 * the membership view. Gossip is lossy; status is latest-wins and re-sent, so
 * a lost publish only delays the view. Liveness between publishes comes from
 * pings (see LivenessProber), not from this.
 */
export class StatusGossip {
  private seq = 0
  private started = false
  /** What was last published, without the fields that change every time (seq, time, uptime). */
  private lastContent = ''
  private lastContentWithoutLinks = ''
  private lastPublishedAt = -Infinity
  /** The status last published, which a push hands to a member that connected. */
  private lastPublished: NodeStatus | null = null
  /** When each member's pushed status was last taken (see PUSH_MIN_INTERVAL_MS). */
  private readonly pushedAt = new Map<string, number>()
  /** Pushes of ours in flight, by peer id, and when each member was last pushed to. */
  private readonly pushing = new Set<string>()
  private readonly pushedTo = new Map<string, number>()
  /**
   * How many statuses gossipsub has written to each connected peer since it
   * connected. The linked keepalive waits until every member has been sent a
   * few: a publish made before its subscription reached us, or before our
   * gossip stream to it opened, is dropped by gossipsub, and a member that
   * missed our status must not wait for the long keepalive to hear it.
   */
  private readonly sent = new Map<string, number>()
  private readonly peerGone = (evt: CustomEvent<PeerId>): void => {
    this.sent.delete(evt.detail.toString())
    this.pushedAt.delete(evt.detail.toString())
    this.pushedTo.delete(evt.detail.toString())
  }

  private readonly startedAt = Date.now()
  private publishTimer: NodeJS.Timeout | null = null
  private lastRefutedAt = -Infinity
  private tickTimer: NodeJS.Timeout | null = null
  private readonly encoder = new TextEncoder()
  private readonly decoder = new TextDecoder()
  private readonly validate = (source: PeerId, msg: Message): Promise<TopicValidatorResult> => this.receive(source, msg)
  /** This node's addresses, read again only when libp2p says they changed (reading them walks every listener). */
  private addresses: string[] | null = null
  private readonly addressesChanged = (): void => {
    this.addresses = null
  }

  /**
   * A member that subscribes to status (a node that just connected) is sent
   * ours at once, not at the next interval. Only a member: a peer with no
   * bound name that churns its subscription must not make us publish. At
   * most once per ANNOUNCE_MIN_INTERVAL_MS.
   */
  private announceTimer: NodeJS.Timeout | null = null
  private lastAnnouncedAt = -Infinity
  private readonly subscriptionChanged = (evt: CustomEvent<SubscriptionChangeData>): void => {
    if (!evt.detail.subscriptions.some((s) => s.topic === STATUS_TOPIC && s.subscribe)) return
    const peerId = evt.detail.peerId
    const id = peerId.toString()
    const name = this.init.bindings.nameOf(id)
    if (name === null) return
    const last = this.lastPublished
    if (this.init.push === undefined || last === null) {
      this.announce()
      return
    }
    // Only the member that connected needs our status now; the others have it. Over the
    // connection it subscribed on only (a push never dials), one at a time per member, and not
    // again within PUSH_MIN_INTERVAL_MS: gossipsub reports every SUBSCRIBE a peer sends.
    const now = performance.now()
    if (this.pushing.has(id) || now - (this.pushedTo.get(id) ?? -Infinity) < PUSH_MIN_INTERVAL_MS) return
    if (this.init.node.getConnections(peerId).length === 0) return
    this.pushing.add(id)
    this.pushedTo.set(id, now)
    this.init.push(name, last).then(() => {
      // An answered push is a delivery the member confirmed: served, unlike a publish, which
      // gossipsub may drop before the member's subscription reached us. Only if it carried our
      // latest status: a newer one published meanwhile may be the one dropped.
      const connected = this.init.node.getConnections(peerId).length > 0
      if (this.publishTimer !== null && connected && this.lastPublished === last) {
        this.sent.set(id, Math.max(SENT_BEFORE_LINKED, this.sent.get(id) ?? 0))
      }
    }, (err: unknown) => {
      // Refused for its rate, it has a status of ours from moments ago: nothing to make up for.
      if ((err as { code?: string }).code === 'ERR_STATUS_PUSH_RATE') return
      this.init.log.debug({ err, node: name }, 'status push failed; publishing instead')
      this.announce()
    }).catch((err: unknown) => {
      this.init.log.debug({ err, node: name }, 'status push bookkeeping failed')
    }).finally(() => this.pushing.delete(id))
  }

  /** A publish to every node, soon: peers subscribing together (a restart of many) get one. */
  private announce(): void {
    if (this.publishTimer === null) return
    this.announceTimer ??= setTimeout(() => {
      this.announceTimer = null
      this.lastAnnouncedAt = performance.now()
      this.publish()
    }, Math.max(20, this.lastAnnouncedAt + ANNOUNCE_MIN_INTERVAL_MS - performance.now()))
  }

  constructor(private readonly init: StatusGossipInit) {}

  /** This node's status as it would be published now. */
  current(): NodeStatus {
    const local = this.init.local()
    const node = this.init.node
    const connected = new Set(node.getConnections().map((c) => c.remotePeer.toString()))
    return {
      name: this.init.selfName,
      peer_id: node.peerId.toString(),
      seq: this.seq,
      time: Date.now(),
      started_at: this.startedAt,
      uptime_s: Math.round(process.uptime()),
      p2p_connections: connected.size,
      links: [...connected].flatMap((id) => this.init.bindings.nameOf(id) ?? []).sort(),
      lost: this.init.view.lostHere(),
      version: this.init.version,
      addresses: this.listenAddresses(),
      health: local.problems.length === 0 ? 'ok' : 'degraded',
      ...local,
    }
  }

  private listenAddresses(): string[] {
    // Not kept while empty: before the node listens there is nothing to keep.
    if (this.addresses === null || this.addresses.length === 0) {
      this.addresses = this.init.node.getMultiaddrs().slice(0, 20).map((a) => a.toString())
    }
    return this.addresses
  }

  start(): void {
    if (this.started) return
    this.started = true
    const pubsub = this.init.node.services.pubsub
    // Validation decides before anything is relayed: a refused status goes no further than this node.
    pubsub.topicValidators.set(STATUS_TOPIC, this.validate)
    pubsub.subscribe(STATUS_TOPIC)
    this.init.node.addEventListener('self:peer:update', this.addressesChanged)
    this.init.node.addEventListener('peer:disconnect', this.peerGone)
    pubsub.addEventListener('subscription-change', this.subscriptionChanged)
    const { intervalMs } = this.init
    this.publishTimer = setInterval(() => this.publishIfChanged(), intervalMs)
    this.tickTimer = setInterval(() => this.init.view.tick(), Math.max(50, Math.min(250, intervalMs / 4)))
    this.publish()
  }

  stop(): void {
    if (!this.started) return
    this.started = false
    if (this.publishTimer !== null) clearInterval(this.publishTimer)
    if (this.tickTimer !== null) clearInterval(this.tickTimer)
    this.publishTimer = null
    this.tickTimer = null
    this.init.node.removeEventListener('self:peer:update', this.addressesChanged)
    this.init.node.removeEventListener('peer:disconnect', this.peerGone)
    this.sent.clear()
    this.pushedAt.clear()
    this.pushedTo.clear()
    this.lastPublished = null
    this.addresses = null
    if (this.announceTimer !== null) clearTimeout(this.announceTimer)
    this.announceTimer = null
    const pubsub = this.init.node.services.pubsub
    pubsub.removeEventListener('subscription-change', this.subscriptionChanged)
    pubsub.topicValidators.delete(STATUS_TOPIC)
    pubsub.unsubscribe(STATUS_TOPIC)
  }

  /**
   * Publishes if the status changed since the last publish, or the keepalive
   * is due. A change of its links alone (a connection made or lost, which
   * liveness does not read from statuses) waits for the unlinked keepalive:
   * while a cluster forms every node's links change every second, and a
   * publish each time, flooded to every node, starved their handshakes.
   */
  private publishIfChanged(): void {
    const status = this.current()
    const changed = content(status) !== this.lastContent
    if (publishDue({
      sinceMs: performance.now() - this.lastPublishedAt,
      keepaliveMs: this.keepaliveFor(status.links),
      shortKeepaliveMs: this.init.keepaliveMs ?? this.init.intervalMs,
      intervalMs: this.init.intervalMs,
      changed,
      changedBeyondLinks: changed && contentWithoutLinks(status) !== this.lastContentWithoutLinks,
    })) this.publish(status)
  }

  /** The keepalive that applies now (see statusKeepalive). */
  private keepaliveFor(links: readonly string[]): number {
    const keepalive = this.init.keepaliveMs ?? this.init.intervalMs
    const linked = this.init.linkedKeepaliveMs ?? keepalive
    if (linked <= keepalive) return keepalive
    const served = new Set<string>()
    for (const [peerId, count] of this.sent) {
      const name = count >= SENT_BEFORE_LINKED ? this.init.bindings.nameOf(peerId) : null
      if (name !== null) served.add(name)
    }
    const view = this.init.view
    const members = view.peerNames()
    const excused = new Set(members.filter((name) => view.stateOf(name) === 'offline'))
    return statusKeepalive(keepalive, linked, members, links, served, excused)
  }

  /**
   * Another member reported this node lost: a status published now has a
   * newer seq than the one the report names, so every member that took the
   * report hears this node again and clears it (SWIM's refutation). At most
   * once per REFUTE_MIN_INTERVAL_MS.
   */
  refute(by: string): boolean {
    const now = performance.now()
    if (this.publishTimer === null || now - this.lastRefutedAt < REFUTE_MIN_INTERVAL_MS) return false
    this.lastRefutedAt = now
    this.init.log.info({ by }, `reported lost by ${by}; publishing a fresh status so that the report is cleared`)
    this.publish()
    return true
  }

  /** Publishes now, e.g. right after a state change worth spreading fast. */
  publish(status: NodeStatus = this.current()): void {
    if (this.publishTimer === null) return
    this.seq++
    status.seq = this.seq
    this.lastContent = content(status)
    this.lastContentWithoutLinks = contentWithoutLinks(status)
    this.lastPublishedAt = performance.now()
    this.lastPublished = status
    this.init.onStatus?.('published')
    const bytes = this.encoder.encode(JSON.stringify(status))
    this.init.node.services.pubsub.publish(STATUS_TOPIC, bytes).then(({ recipients }) => {
      if (this.publishTimer === null) return
      for (const peer of recipients) {
        const id = peer.toString()
        // Only peers still connected: a late result must not count for a peer that has gone.
        if (this.init.node.getConnections(peer).length > 0) this.sent.set(id, (this.sent.get(id) ?? 0) + 1)
      }
    }, (err: unknown) => {
      this.init.log.debug({ err }, 'status publish failed')
    })
  }

  private async receive(source: PeerId, msg: Message): Promise<TopicValidatorResult> {
    const from = msg.type === 'signed' ? msg.from.toString() : null
    // Unsigned status has no author to bind a name to.
    if (from === null) return TopicValidatorResult.Reject
    // Counted against the peer that sent it here: a validator on every node refuses a malformed
    // status before it is relayed, so no honest node forwards one.
    const malformed = (kind: MalformedKind, fields: Record<string, unknown>): TopicValidatorResult => {
      this.init.malformed.record(source.toString(), kind, { from, ...fields })
      return TopicValidatorResult.Reject
    }
    if (msg.data.byteLength > MAX_STATUS_BYTES) return malformed('too_large', { bytes: msg.data.byteLength })
    let parsed: unknown
    try {
      parsed = JSON.parse(this.decoder.decode(msg.data))
    } catch {
      return malformed('not_json', {})
    }
    const result = nodeStatus.safeParse(parsed)
    if (!result.success) return malformed('schema', { issue: result.error.issues[0]?.path.join('.') })
    const status = result.data
    if (from !== status.peer_id) return malformed('foreign_peer_id', { claimed: status.peer_id, name: status.name })
    const judged = await this.take(status, from, source.toString() === from)
    return judged === 'ignored' ? TopicValidatorResult.Ignore : judged === 'refused' ? TopicValidatorResult.Reject : TopicValidatorResult.Accept
  }

  /**
   * A status a member pushed to us over its own connection (STATUS_PUSH_METHOD;
   * the RPC layer checked the schema and that the caller is a member). Judged
   * as a gossiped one, with the connection's authenticated peer id as its
   * author: it must be the caller's own status.
   */
  async receivePushed(peerId: string, status: NodeStatus): Promise<{ taken: boolean }> {
    if (status.peer_id !== peerId) {
      throw new P2pError('ERR_STATUS_FOREIGN', `a pushed status must be the caller's own: peer_id ${status.peer_id} is not the caller ${peerId}`)
    }
    const bytes = this.encoder.encode(JSON.stringify(status)).byteLength
    if (bytes > MAX_STATUS_BYTES) {
      throw new P2pError('ERR_STATUS_TOO_LARGE', `a status is at most ${MAX_STATUS_BYTES} bytes; this one is ${bytes}`)
    }
    const now = performance.now()
    if (now - (this.pushedAt.get(peerId) ?? -Infinity) < PUSH_MIN_INTERVAL_MS) {
      throw new P2pError('ERR_STATUS_PUSH_RATE', `at most one pushed status per ${PUSH_MIN_INTERVAL_MS} ms from each member`)
    }
    this.pushedAt.set(peerId, now)
    const judged = await this.take(status, peerId, true)
    if (judged === 'refused') throw new P2pError('ERR_STATUS_REFUSED', `status of ${status.name} refused: the name is not bound to this peer`)
    if (judged === 'ignored') throw new P2pError('ERR_STATUS_UNCHECKED', 'the name binding could not be checked (the shared store is down); publish instead')
    return { taken: judged === 'taken' }
  }

  /** The checks after the schema: the name binding, then the view; `direct`: the author itself sent it here. */
  private async take(status: NodeStatus, from: string, direct: boolean): Promise<'taken' | 'stale' | 'refused' | 'ignored'> {
    let admission
    try {
      admission = await this.init.bindings.admit(status.name, from)
    } catch (err) {
      // The shared store is down: neither pin nor refuse; the next status is judged again.
      this.init.log.debug({ err, node: status.name }, 'could not check a name binding')
      return 'ignored'
    }
    if (!admission.ok) {
      if (direct) this.init.onRefusedPeer?.(admission.refusal)
      return 'refused'
    }
    const taken = this.init.view.observe(status)
    this.init.onStatus?.(taken ? 'taken' : 'stale')
    return taken ? 'taken' : 'stale'
  }
}

/**
 * Whether the status is published at this check (every intervalMs, so each
 * wait may end half an interval early): when the keepalive in force is due,
 * at once when anything but its links changed, and when only its links
 * changed, once the short keepalive is due.
 */
export function publishDue(p: {
  sinceMs: number
  keepaliveMs: number
  shortKeepaliveMs: number
  intervalMs: number
  changed: boolean
  changedBeyondLinks: boolean
}): boolean {
  const early = p.intervalMs / 2
  if (p.sinceMs >= p.keepaliveMs - early) return true
  if (!p.changed) return false
  return p.changedBeyondLinks || p.sinceMs >= p.shortKeepaliveMs - early
}

/**
 * The longest wait before an unchanged status is published again: the linked
 * keepalive while this node holds a connection to every member it knows (each
 * pings it and so knows it is alive) and every linked node has been sent our
 * status a few times over its connection; else the short one (some member
 * hears of this node only through gossip, or may not have heard it yet).
 * `excused` members need no link: those offline here (a node that is down,
 * or was never started, would otherwise hold every node at the short pace
 * for as long as it stays down; one that comes back is handed our status
 * when it connects, see STATUS_PUSH_METHOD). A member that is online here
 * but has no link to us hears us only through gossip, whatever its
 * configuration: it keeps the short pace.
 */
export function statusKeepalive(
  keepaliveMs: number,
  linkedKeepaliveMs: number,
  members: readonly string[],
  links: readonly string[],
  served: ReadonlySet<string>,
  excused: ReadonlySet<string> = new Set(),
): number {
  if (linkedKeepaliveMs <= keepaliveMs) return keepaliveMs
  const connected = new Set(links)
  const linked = members.every((name) => connected.has(name) || excused.has(name)) && links.every((name) => served.has(name))
  return linked ? linkedKeepaliveMs : keepaliveMs
}

/** A status without the fields that differ on every publish. */
function content(s: NodeStatus): string {
  return JSON.stringify({ ...s, seq: 0, time: 0, uptime_s: 0 })
}

function contentWithoutLinks(s: NodeStatus): string {
  return JSON.stringify({ ...s, seq: 0, time: 0, uptime_s: 0, links: [], p2p_connections: 0 })
}
