import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A stand-in for an AITBC blockchain node's RPC, for the local cluster and
 * for anyone without a chain: GET /rpc/head {height, hash}, GET /rpc/mempool
 * {count}, GET /health, the contract the daemon reads (docs/deployment.md, chain RPC).
 * Every simulated chain of one cluster derives its height from the same
 * epoch, so chains in sync agree at any instant; a lagging one is stuck
 * `lag` blocks behind until it is restarted (POST /sim/restart, which is what
 * the service-manager stand-in calls), then it catches up. Never part of a
 * real daemon.
 */
/** A new simulated block this often: fast enough that sync checks see movement within seconds. */
export const DEFAULT_BLOCK_MS = 2000

/** The height at the epoch: above zero, so a lag of a few blocks never gives a negative height. */
export const DEFAULT_BASE_HEIGHT = 100

export interface SimulatedChainInit {
  /** ms since the epoch at which the cluster's chain was at baseHeight. */
  epochMs: number
  /** Height at epochMs (default DEFAULT_BASE_HEIGHT). */
  baseHeight?: number
  /** A new block every blockMs (default DEFAULT_BLOCK_MS). */
  blockMs?: number
  /** Start this many blocks behind, stuck until restarted (default 0). */
  lag?: number
  port?: number
}

export interface SimulatedChain {
  readonly url: string
  readonly port: number
  height(): number
  close(): Promise<void>
}

export async function startSimulatedChain(init: SimulatedChainInit): Promise<SimulatedChain> {
  const blockMs = init.blockMs ?? DEFAULT_BLOCK_MS
  const tip = (): number => (init.baseHeight ?? DEFAULT_BASE_HEIGHT) + Math.floor((Date.now() - init.epochMs) / blockMs)
  let stuckAt: number | null = (init.lag ?? 0) > 0 ? tip() - init.lag! : null
  let restarts = 0
  const height = (): number => stuckAt ?? tip()
  const hash = (h: number): string => `0x${createHash('sha256').update(`aitbc-sim-${h}`).digest('hex').slice(0, 16)}`
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    const h = height()
    if (req.method === 'GET' && req.url === '/rpc/head') return send(200, { height: h, hash: hash(h), simulated: true })
    if (req.method === 'GET' && req.url === '/rpc/mempool') return send(200, { count: (h * 7) % 23 })
    if (req.method === 'GET' && req.url === '/health') return send(200, { status: 'ok', simulated: true, restarts })
    if (req.method === 'POST' && req.url === '/sim/restart') {
      restarts++
      // A restarted node syncs from its peers: back at the tip a moment later.
      const was = stuckAt
      setTimeout(() => {
        if (stuckAt === was) stuckAt = null
      }, 500).unref()
      return send(200, { status: 'restarted', height: h })
    }
    send(404, { error: 'not a chain RPC route', routes: ['/rpc/head', '/rpc/mempool', '/health'] })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    height,
    close: () => new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
