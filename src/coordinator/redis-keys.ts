/**
 * Every Redis key the coordinator touches is built here and nowhere else.
 * With an empty prefix the layout is the one of the operator guide, so its
 * runbook (`HGETALL agent:x`, `SMEMBERS agents:active`) works unchanged.
 */
export interface RedisKeys {
  /** HASH with one agent's fields; lists and objects stored as JSON strings. */
  agent(agentId: string): string
  /** SET of the ids of agents whose status is active. */
  readonly activeAgents: string
  /** SET of every registered agent id. */
  readonly allAgents: string
  /** ZSET agent id -> last contact (ms, Redis clock), for stale sweeps. */
  readonly agentHeartbeats: string
  /** STRING holding this registry's cluster id (see registry fingerprint). */
  readonly clusterId: string
  /** HASH of one message a node sent: meta (JSON), open (count of queued targets), r:{target} (receipt JSON). */
  message(messageId: string): string
  /** SET of ids of messages a node sent that still have a queued receipt. */
  outbox(node: string): string
  /** ZSET message id -> received at (ms) of the messages a node received. */
  inbox(node: string): string
  /** HASH message id -> message JSON of the messages a node received. */
  inboxData(node: string): string
}

export function redisKeys(prefix = ''): RedisKeys {
  return {
    agent: (agentId) => `${prefix}agent:${agentId}`,
    activeAgents: `${prefix}agents:active`,
    allAgents: `${prefix}agents:all`,
    agentHeartbeats: `${prefix}agents:heartbeats`,
    clusterId: `${prefix}cluster:id`,
    message: (messageId) => `${prefix}msg:${messageId}`,
    outbox: (node) => `${prefix}node:${node}:outbox`,
    inbox: (node) => `${prefix}node:${node}:inbox`,
    inboxData: (node) => `${prefix}node:${node}:inbox:data`,
  }
}
