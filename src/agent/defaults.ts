/**
 * The agent library's defaults, each written once. src/agent may not import
 * the daemon (it is what agent authors import), so where a default mirrors a
 * daemon setting's default the comment names the setting and
 * test/agent/defaults.test.ts fails if the two drift apart.
 */

/** Tasks run at once when neither the caller nor metadata.capacity says: one, the safe choice for a command of unknown weight. */
export const DEFAULT_CONCURRENCY = 1

/**
 * The stale interval assumed when the coordinator states none at registration;
 * mirrors the daemon's agents.staleAfterMs. The heartbeat is a third of it, at most MAX_HEARTBEAT_MS.
 */
export const DEFAULT_STALE_AFTER_MS = 90_000

/** The longest heartbeat period, whatever the stale interval: load stays fresh enough for the balancer. */
export const MAX_HEARTBEAT_MS = 15_000

/** How long close() waits for running tasks before leaving them to their lease: within a service manager's stop timeout. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 30_000

/** How long one long poll waits for a task: well under the coordinator's 60 s long-poll bound and common proxy idle timeouts. */
export const DEFAULT_POLL_WAIT_MS = 20_000

/**
 * A pushed task's lease when neither the push nor the coordinator's record
 * states one; mirrors the daemon's tasks.defaultTimeoutMs.
 */
export const DEFAULT_TASK_TIMEOUT_MS = 60_000
