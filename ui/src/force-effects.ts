/**
 * What `force` does, per operation, as src/ops/operations/ does it; the confirmation before a
 * forced operation quotes it, so that no one is asked to allow something that will not happen
 * (or not told of something that will). Keep in step with status-op.ts, sync-op.ts and coordinate-op.ts.
 */
const SYNC: Record<string, string> = {
  git: 'git: force changes nothing. Every node fetches and fast-forwards only; a node with local changes or a diverged branch is reported as a conflict, never reset or overwritten.',
  blockchain: 'blockchain: force restarts the chain service on each node behind the reference node (genesis, or the first that answers), after checking that node\'s git and health, then waits within the timeout for it to catch up. Without force lagging nodes are only reported.',
  mempool: 'mempool: force changes nothing; mempool sizes are compared and reported.',
  configuration: 'configuration: force overwrites each configured file that differs from the reference node\'s (genesis, or the first that answers) with the reference\'s copy, keeping a backup, on nodes whose git is clean. Without force differences are only reported.',
}

const EFFECTS: Record<string, string> = {
  status: 'status: force starts aitbc-node over SSH on a target whose daemon does not answer (only where p2p.peers[].ssh is configured). Nodes that answer are not touched.',
  health: 'health: force starts aitbc-node over SSH on a target whose daemon does not answer (only where p2p.peers[].ssh is configured). Nodes that answer are not touched.',
  message: 'message: force changes nothing; the message is delivered with receipts as without it.',
  coordinate: 'coordinate: force allows an action that ops.actions marks as changing the node (requiresForce) to run; without force such an action is refused. It runs on the targets in stages and stops after the failure threshold.',
}

/** What force does for this operation (and sync type), in the operator's words. */
export function forceEffect(operation: string, syncType?: string): string {
  if (operation !== 'sync') return EFFECTS[operation] ?? `${operation}: force has no documented effect.`
  const kinds = syncType === undefined || syncType === 'all' ? ['git', 'blockchain', 'mempool', 'configuration'] : [syncType]
  return kinds.map((k) => SYNC[k] ?? `${k}: force has no documented effect.`).join('\n')
}
