import type { ChainReading } from './chain-monitor.js'

/** The chain's part of GET /health. */
export type ChainHealth = {
  /** False when the last chain poll failed. */
  ok: boolean
  /** The last poll's problem, if any. */
  warnings: string[]
  /** Whether a chain RPC is configured at all. */
  configured: boolean
  /** Height of the last good reading. */
  height: number | null
  /** Unix seconds of the last good reading. */
  last_sync: number | null
  /** Why the last poll failed, or null. */
  error: string | null
}

/** The chain's health from its monitor (null when no chain RPC is configured). */
export function chainHealth(monitor: { current(): ChainReading } | null): ChainHealth {
  const reading = monitor?.current() ?? null
  return {
    ok: reading === null || reading.problem === null,
    warnings: reading?.problem == null ? [] : [reading.problem],
    configured: monitor !== null,
    height: reading?.chain?.height ?? null,
    last_sync: reading?.lastSync ?? null,
    error: reading?.problem ?? null,
  }
}
