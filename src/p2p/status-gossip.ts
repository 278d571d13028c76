import type { Message } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { MembershipView } from './membership-view.js'
import type { MeshLibp2p } from './mesh-node.js'
import { type LocalStatus, type NodeStatus, nodeStatus, STATUS_TOPIC } from './node-status.js'

export interface StatusGossipInit {
  node: MeshLibp2p
  selfName: string
  version: string
  intervalMs: number
  /** What the daemon knows about itself right now (chain, registry, ops...). */
  local(): LocalStatus
  view: MembershipView
  log: Logger
}

const MAX_STATUS_BYTES = 16 * 1024

/**
 * Publishes this node's status every interval on the gossip topic and feeds
 * what it hears into the membership view. Gossip is lossy; status is
 * latest-wins and re-sent, so a lost publish only delays the view.
 */
export class StatusGossip {
  private seq = 0
  private readonly startedAt = Date.now()
  private publishTimer: NodeJS.Timeout | null = null
  private tickTimer: NodeJS.Timeout | null = null
  private readonly encoder = new TextEncoder()
  private readonly decoder = new TextDecoder()
  private readonly onMessage = (evt: CustomEvent<Message>): void => this.receive(evt.detail)

  constructor(private readonly init: StatusGossipInit) {}

  /** This node's status as it would be published now. */
  current(): NodeStatus {
    const local = this.init.local()
    const node = this.init.node
    return {
      name: this.init.selfName,
      peer_id: node.peerId.toString(),
      seq: this.seq,
      time: Date.now(),
      started_at: this.startedAt,
      uptime_s: Math.round(process.uptime()),
      p2p_connections: new Set(node.getConnections().map((c) => c.remotePeer.toString())).size,
      version: this.init.version,
      addresses: node.getMultiaddrs().slice(0, 20).map((a) => a.toString()),
      health: local.problems.length === 0 ? 'ok' : 'degraded',
      ...local,
    }
  }

  start(): void {
    const pubsub = this.init.node.services.pubsub
    pubsub.subscribe(STATUS_TOPIC)
    pubsub.addEventListener('message', this.onMessage)
    const { intervalMs } = this.init
    this.publishTimer = setInterval(() => this.publish(), intervalMs)
    this.tickTimer = setInterval(() => this.init.view.tick(), Math.max(50, Math.min(250, intervalMs / 4)))
    this.publish()
  }

  stop(): void {
    if (this.publishTimer !== null) clearInterval(this.publishTimer)
    if (this.tickTimer !== null) clearInterval(this.tickTimer)
    this.publishTimer = null
    this.tickTimer = null
    const pubsub = this.init.node.services.pubsub
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.unsubscribe(STATUS_TOPIC)
  }

  /** Publishes now, e.g. right after a state change worth spreading fast. */
  publish(): void {
    if (this.publishTimer === null) return
    this.seq++
    const bytes = this.encoder.encode(JSON.stringify(this.current()))
    this.init.node.services.pubsub.publish(STATUS_TOPIC, bytes).catch((err: unknown) => {
      this.init.log.debug({ err }, 'status publish failed')
    })
  }

  private receive(msg: Message): void {
    if (msg.topic !== STATUS_TOPIC) return
    if (msg.data.byteLength > MAX_STATUS_BYTES) return
    let parsed: unknown
    try {
      parsed = JSON.parse(this.decoder.decode(msg.data))
    } catch {
      this.init.log.warn({ from: fromOf(msg) }, 'status gossip that is not JSON ignored')
      return
    }
    const result = nodeStatus.safeParse(parsed)
    if (!result.success) {
      this.init.log.warn({ from: fromOf(msg), issue: result.error.issues[0]?.path.join('.') }, 'malformed status gossip ignored')
      return
    }
    // Signed messages carry their author; a status for another peer id is forged or relayed wrongly.
    const from = fromOf(msg)
    if (from !== null && from !== result.data.peer_id) {
      this.init.log.warn({ from, claimed: result.data.peer_id, name: result.data.name }, 'status gossip with a foreign peer id ignored')
      return
    }
    this.init.view.observe(result.data)
  }
}

function fromOf(msg: Message): string | null {
  return msg.type === 'signed' ? msg.from.toString() : null
}
