/**
 * V8 settings the daemon runs with, given to node before the script (V8 reads
 * them when the heap is made; `v8.setFlagsFromString` later has no effect).
 * The systemd unit's ExecStart, `./dev up`'s daemons and the tests' daemons
 * all pass these.
 *
 * --max-semi-space-size=2: a young generation of 2 × 2 MB instead of 2 × 16 MB.
 * An idle daemon in a 10-node mesh holds 105 MB instead of 128 MB, and the
 * heap it grows under a burst of messages is handed back sooner.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2']
