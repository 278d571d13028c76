import type { Logger } from 'pino'

/** Where names pinned on first sight are kept, shared by every node of the cluster (the Redis registry). */

/** An unknown name is looked up again in the store at most this often (claims of unknown names cost a read each). */
const UNKNOWN_REREAD_GAP_MS = 50
export interface BindingStore {
  /** Every pinned name and its peer id. */
  all(): Promise<Record<string, string>>
  /** Pins name to peerId unless it is bound already; returns the peer id it is bound to afterwards. */
  pin(name: string, peerId: string): Promise<string>
  /** Removes a pin; returns whether there was one. */
  forget(name: string): Promise<boolean>
}

/** Why a claim was refused: the label of aitbc_p2p_refusals_total. */
export type RefusalReason = 'name_taken' | 'unknown_name' | 'peer_has_other_name' | 'unknown_peer' | 'forged_from' | 'forbidden'

/** One refused claim or call, for logs, metrics and GET /nodes. */
export interface Refusal {
  reason: RefusalReason
  /** The name claimed or used, when there is one. */
  name: string | null
  /** The authenticated peer id that made the claim. */
  peerId: string
  message: string
}

export type Admission = { ok: true } | { ok: false, refusal: Refusal }

/** How often pins are re-read from the store, so that a forget on another node is seen. */
export const DEFAULT_REFRESH_MS = 10_000

/** Shortest gap between store reads caused by refused claims. */
export const DEFAULT_REREAD_GAP_MS = 1000

export interface NameBindingsInit {
  selfName: string
  selfPeerId: string
  /** Configured peers; a configured peerId is authoritative and never pinned. */
  configured: readonly { name: string, peerId?: string }[]
  store: BindingStore
  log: Logger
  onRefused?(r: Refusal): void
  /** How often pins are re-read from the store, so a forget on another node is seen (default DEFAULT_REFRESH_MS). */
  refreshMs?: number
  /** Shortest gap between store reads caused by refused claims (default DEFAULT_REREAD_GAP_MS). */
  rereadGapMs?: number
}

/**
 * A node is its peer id: this binds names to peer ids. A configured peerId
 * is authoritative; a configured name without one is pinned in the shared
 * store by the first peer that claims it (trust on first use) and never
 * silently rebound. A name neither configured here nor pinned by any node is
 * unknown and refused, so gossip cannot grow the view.
 */
export class NameBindings {
  private readonly configured = new Map<string, string | null>()
  private pinned = new Map<string, string>()
  /**
   * nameOf's answers by peer id, made from configured and pinned when first
   * asked after a change of either (it is asked for every connected peer on
   * every status check and liveness round).
   */
  private byPeerId: Map<string, string> | null = null
  private readonly conflicts = new Map<string, string>()
  private timer: NodeJS.Timeout | null = null
  private started = false
  private lastReread = 0
  /** Reads of the store under way for peers not bound here (see nameOfRechecked). */
  private readonly rechecks = new Map<string, Promise<string | null>>()
  /** Set when this node's own name is pinned to another peer id. */
  selfConflict: string | null = null

  constructor(private readonly init: NameBindingsInit) {
    for (const p of init.configured) if (p.name !== init.selfName) this.configured.set(p.name, p.peerId ?? null)
  }

  /** Loads the pins and pins this node's own name; a store that is down only delays pinning. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    await this.reread().catch((err: unknown) => this.init.log.warn({ err }, 'name bindings not readable yet; retrying'))
    await this.pinSelf().catch((err: unknown) => this.init.log.warn({ err }, 'could not pin this node\'s name yet; retrying'))
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.init.log.debug({ err }, 'name bindings refresh failed'))
    }, this.init.refreshMs ?? DEFAULT_REFRESH_MS)
    this.timer.unref()
  }

  stop(): void {
    if (!this.started) return
    this.started = false
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** The peer id bound to a name (configured, else pinned), or null. */
  peerIdOf(name: string): string | null {
    if (name === this.init.selfName) return this.init.selfPeerId
    return this.configured.get(name) ?? this.pinned.get(name) ?? null
  }

  /** The name bound to a peer id, or null for an unknown peer. */
  nameOf(peerId: string): string | null {
    if (peerId === this.init.selfPeerId) return this.init.selfName
    this.byPeerId ??= this.reverseIndex()
    return this.byPeerId.get(peerId) ?? null
  }

  /** Peer id to name: a configured id first, then a pin of a name configured without one (or not configured). */
  private reverseIndex(): Map<string, string> {
    const index = new Map<string, string>()
    for (const [name, id] of this.configured) if (id !== null && !index.has(id)) index.set(id, name)
    for (const [name, id] of this.pinned) {
      if ((this.configured.get(name) ?? null) === null && !index.has(id)) index.set(id, name)
    }
    return index
  }

  /** Changes a pin (undefined: removes it), and drops nameOf's index. */
  private setPin(name: string, peerId: string | undefined): void {
    if (peerId === undefined) this.pinned.delete(name)
    else this.pinned.set(name, peerId)
    this.byPeerId = null
  }

  /**
   * The name of a peer id, reading the shared store again first when it is
   * not bound here: a node pins its own name before it calls anyone, and our
   * copy may be older than that pin (nodes starting together). Null: no
   * cluster member. Calls for one peer id while its read runs share that
   * read: a burst of streams from an outsider costs one, and the caller keeps
   * a peer found unknown out.
   */
  nameOfRechecked(peerId: string): Promise<string | null> {
    const known = this.nameOf(peerId)
    if (known !== null) return Promise.resolve(known)
    let check = this.rechecks.get(peerId)
    if (check === undefined) {
      check = this.reread().then(() => this.nameOf(peerId)).finally(() => this.rechecks.delete(peerId))
      // Bounded: past 1000 peers under way at once, a call reads on its own.
      if (this.rechecks.size < 1000) this.rechecks.set(peerId, check)
    }
    return check
  }

  /** How the name is bound: configured, pinned, or not at all. */
  sourceOf(name: string): 'configured' | 'pinned' | null {
    if (this.configured.get(name) != null) return 'configured'
    return this.pinned.has(name) ? 'pinned' : null
  }

  /** Whether the name may appear in the view: configured here, or pinned by some node. */
  isKnown(name: string): boolean {
    return this.configured.has(name) || this.pinned.has(name)
  }

  /** The last refused claim of a bound name, for GET /nodes. */
  conflictOf(name: string): string | null {
    return this.conflicts.get(name) ?? null
  }

  /** Decides whether peerId may speak as name, pinning a configured name on first sight. */
  async admit(name: string, peerId: string): Promise<Admission> {
    const refuse = (reason: RefusalReason, message: string): Admission => {
      const refusal: Refusal = { reason, name, peerId, message }
      if (reason === 'name_taken') this.conflicts.set(name, message)
      this.init.onRefused?.(refusal)
      return { ok: false, refusal }
    }
    if (name === this.init.selfName) {
      return refuse('name_taken', `peer ${peerId} claims the name ${name}, which is this node (${this.init.selfPeerId})`)
    }
    const fixed = this.configured.get(name) ?? null
    if (fixed !== null) {
      return fixed === peerId ? { ok: true } : refuse('name_taken', `peer ${peerId} claims the name ${name}, which is configured as ${fixed}`)
    }
    if (this.pinned.get(name) === peerId && this.nameOf(peerId) === name) return { ok: true }
    // A refusal may come from a stale copy (a forget on another node): read the store again, not too often.
    if (Date.now() - this.lastReread >= (this.init.rereadGapMs ?? DEFAULT_REREAD_GAP_MS)) await this.reread()
    const other = this.nameOf(peerId)
    if (other !== null && other !== name) {
      return refuse('peer_has_other_name', `peer ${peerId} is bound to ${other} and now claims ${name}; one peer id is one node`)
    }
    let bound = this.pinned.get(name)
    if (bound === undefined && Date.now() - this.lastReread >= UNKNOWN_REREAD_GAP_MS) {
      // A node pins its own name before it speaks: a copy read just before that pin does not
      // know it yet (nodes starting together through one seed), so read once more before refusing.
      await this.reread()
      bound = this.pinned.get(name)
    }
    if (bound === undefined && !this.configured.has(name)) {
      return refuse('unknown_name', `peer ${peerId} claims ${name}, a name that is neither in p2p.peers nor pinned by any node`)
    }
    const now = bound ?? (await this.init.store.pin(name, peerId))
    this.setPin(name, now)
    if (now !== peerId) {
      return refuse('name_taken', `peer ${peerId} claims the name ${name}, which is bound to ${now}; if ${name} was rebuilt, run aitbc-node nodes forget ${name}`)
    }
    if (bound === undefined) this.init.log.info({ node: name, peerId }, `pinned ${name} to peer ${peerId} (first sight)`)
    this.conflicts.delete(name)
    return { ok: true }
  }

  /** Removes a pin (admin, after a node was rebuilt with a new key); configured ids stay. */
  async forget(name: string): Promise<boolean> {
    const had = await this.init.store.forget(name)
    this.setPin(name, undefined)
    this.conflicts.delete(name)
    if (name === this.init.selfName) await this.pinSelf()
    return had
  }

  /** Re-reads the pins (a forget elsewhere), and pins this node again if its pin went missing. */
  private async refresh(): Promise<void> {
    await this.reread()
    if (this.selfConflict !== null || this.pinned.get(this.init.selfName) !== this.init.selfPeerId) await this.pinSelf()
  }

  private async reread(): Promise<void> {
    this.lastReread = Date.now()
    this.pinned = new Map(Object.entries(await this.init.store.all()))
    this.byPeerId = null
  }

  private async pinSelf(): Promise<void> {
    const { selfName, selfPeerId } = this.init
    const bound = await this.init.store.pin(selfName, selfPeerId)
    this.setPin(selfName, bound)
    const conflict = bound === selfPeerId
      ? null
      : `this node's name ${selfName} is pinned to peer ${bound}, not to its own id ${selfPeerId}: other nodes refuse it; if this node was rebuilt, run aitbc-node nodes forget ${selfName}`
    if (conflict !== null && conflict !== this.selfConflict) {
      this.init.log.error({ node: selfName, peerId: selfPeerId, boundTo: bound }, conflict)
    }
    this.selfConflict = conflict
  }
}
