/**
 * The longest time between two publishes of an unchanged status: as
 * configured, or a third of the suspicion age (at most 3 s, at least the
 * status interval) so an idle node is heard well before it looks degraded.
 */
export function statusKeepaliveMs(
  p2p: { statusKeepaliveMs: number | null, statusIntervalMs: number, suspectAfterMs: number },
): number {
  return p2p.statusKeepaliveMs ?? Math.max(p2p.statusIntervalMs, Math.min(3000, Math.floor(p2p.suspectAfterMs / 3)))
}
