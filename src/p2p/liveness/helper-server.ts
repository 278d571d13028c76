import { z } from 'zod'
import { P2pError } from '../errors.js'
import type { RpcService } from '../rpc/rpc-service.js'

/** The RPC method a node calls to have another node probe a suspect for it. */
export const PROBE_METHOD = 'p2p.probe'

const probeParams = z.strictObject({ node: z.string().min(1).max(100) })

/** A helper's answer: whether it reached the node, and why not. */
export interface ProbeAnswer {
  reachable: boolean
  reason: string | null
}

export interface ProbeHelperInit {
  selfName: string
  /** The peer id bound to a member's name, or null. */
  peerIdOf(name: string): string | null
  /** Whether this node holds an open connection to the peer. */
  connected(peerId: string): boolean
  /** One ping over the beat link, rejecting after waitMs. */
  ping(peerId: string, waitMs: number): Promise<void>
  /** Probes run at once for other members; more are refused with ERR_PROBE_BUSY. */
  maxHelping: number
}

/** A helper's side: probes a suspect for another member until that caller's deadline. */
export class ProbeHelper {
  private helping = 0

  constructor(private readonly init: ProbeHelperInit) {}

  /** Answers PROBE_METHOD calls on `rpc`. */
  register(rpc: Pick<RpcService, 'register'>): void {
    rpc.register(PROBE_METHOD, {
      params: probeParams,
      handler: (p, ctx) => this.probeFor(p.node, ctx.caller, ctx.deadlineAt, ctx.signal),
    })
  }

  /** Pings `name` over an open connection until shortly before the caller's deadline. */
  async probeFor(name: string, caller: string, deadlineAt: number, signal: AbortSignal): Promise<ProbeAnswer> {
    const { selfName, maxHelping } = this.init
    const peerId = this.init.peerIdOf(name)
    if (peerId === null || name === caller) return { reachable: false, reason: `${selfName} knows no node ${name}` }
    if (!this.init.connected(peerId)) return { reachable: false, reason: `${selfName} has no connection to ${name}` }
    if (this.helping >= maxHelping) {
      throw new P2pError('ERR_PROBE_BUSY', `${selfName} is already running ${maxHelping} probes for other nodes`)
    }
    this.helping++
    try {
      // Answer well before the caller's own deadline, so a "no" arrives as a no.
      const until = deadlineAt - 200
      while (!signal.aborted && until - Date.now() > 30) {
        try {
          await this.init.ping(peerId, until - Date.now())
          return { reachable: true, reason: null }
        } catch {
          await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, until - Date.now()))))
        }
      }
      return { reachable: false, reason: `${name} did not answer pings from ${selfName}` }
    } finally {
      this.helping--
    }
  }
}
