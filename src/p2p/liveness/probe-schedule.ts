/**
 * Which members a node pings in a round: a ring of every member's name (the
 * node's own included) in sorted order, and in each slot of wall-clock time
 * every node pings the members `d` places after itself, for shifts `d` that
 * move on each slot.
 *
 * For one shift, "the member d places after me" maps the ring onto itself
 * with no node left out and none pinging itself, so in each slot every member
 * is pinged by exactly `count` nodes, no more and no fewer; over
 * (members - 1) / count slots each node pings every other member once. A hung
 * member is therefore pinged within about one slot wherever the nodes' rounds
 * fall, where independent random walks left gaps of a second and more (and
 * needed twice the pings to bound them); it is SWIM's round-robin order with
 * the nodes' walks interleaved instead of shuffled.
 *
 * Nodes agree on the slot through their clocks (`slot` is wall-clock time over
 * the round interval). Clocks apart by more than a slot, or views that differ
 * for a moment (a member joining), only make the coverage uneven: each node
 * still walks every member within its pass.
 */
export function probeTargets(self: string, members: Iterable<string>, count: number, slot: number): string[] {
  const ring = [...new Set([self, ...members])].sort()
  const n = ring.length
  if (n < 2) return []
  const want = Math.min(Math.max(0, Math.floor(count)), n - 1)
  const at = ring.indexOf(self)
  const base = (((Math.floor(slot) * want) % (n - 1)) + (n - 1)) % (n - 1)
  const targets: string[] = []
  for (let j = 0; j < want; j++) {
    const shift = 1 + ((base + j) % (n - 1))
    targets.push(ring[(at + shift) % n]!)
  }
  return targets
}
