import { table } from './table.js'

/** One node's deep checks as the health report carries them (details.checks). */
interface DeepChecks {
  redis?: { ok: boolean, error: string | null }
  aof?: { ok: boolean, enabled: boolean | null }
  eviction?: { ok: boolean, policy: string | null }
  disk?: { ok: boolean, free_bytes: number, path: string } | null
  chain?: { ok: boolean, height: number | null, error: string | null }
  clock_skew_ms?: number
}

/** Clock differences past this are a failed check (the health report's cross-check says the same). */
const CLOCK_SKEW_LIMIT_MS = 1000

const cell = (ok: boolean, detail: string): string => (ok ? `ok (${detail})` : `FAIL (${detail})`)

function row(node: string, c: DeepChecks): string[] {
  const skew = c.clock_skew_ms
  return [
    node,
    c.redis === undefined ? '-' : c.redis.ok ? 'ok' : `FAIL (${c.redis.error ?? 'unreachable'})`,
    c.aof === undefined ? '-' : cell(c.aof.ok, c.aof.enabled === null ? 'unknown' : c.aof.enabled ? 'on' : 'off'),
    c.eviction === undefined ? '-' : cell(c.eviction.ok, c.eviction.policy ?? 'unknown'),
    c.disk === undefined || c.disk === null ? '-' : cell(c.disk.ok, `${(c.disk.free_bytes / 1e9).toFixed(1)} GB free`),
    c.chain === undefined ? '-' : c.chain.ok ? (c.chain.height === null ? 'none' : `ok (height ${c.chain.height})`) : `FAIL (${c.chain.error ?? 'no answer'})`,
    skew === undefined ? '-' : cell(skew <= CLOCK_SKEW_LIMIT_MS, `${skew} ms`),
  ]
}

/**
 * The deep checks of a health report as a table, one row per node that
 * answered: what `--json` shows under details.checks. Each failing check is
 * marked FAIL; its fix is in the report's issues printed below it.
 */
export function healthChecksText(checks: Record<string, unknown>): string {
  const rows = Object.entries(checks).map(([node, c]) => row(node, c as DeepChecks))
  if (rows.length === 0) return 'deep checks: no node answered'
  return `deep checks:\n${table(['NODE', 'REDIS', 'AOF', 'EVICTION', 'DISK', 'CHAIN', 'CLOCK SKEW'], rows)}`
}
