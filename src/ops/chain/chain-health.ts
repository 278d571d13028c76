import type { ChainReading } from './chain-monitor.js'

/** The chain's part of GET /health. */
export type ChainHealth = {
  /** False when the last chain poll failed. */
  ok: boolean
  warnings: string[]
  configured: boolean
  height: number | null
  last_sync: number | null
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
