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
  /** SETs of agent ids by agent_type, by capability and by service: discover's index. */
  agentsByType(agentType: string): string
  agentsByCapability(capability: string): string
  agentsByService(service: string): string
  /** What those three put before the name; the registry's scripts build the keys from them. */
  readonly agentIndexPrefixes: { type: string, capability: string, service: string }
  /** ZSET agent id -> minus its health score: ascending is discover's order (healthiest first, ties by id). */
  readonly agentHealth: string
  /** STRING set once the index holds every agent (a registry older than the index is indexed at start). */
  readonly agentIndexBuilt: string
  /** STRING holding this registry's cluster id (see registry fingerprint). */
  readonly clusterId: string
  /** HASH of one message a node sent: meta (JSON), open (count of queued targets), r:{target} (receipt JSON). */
  message(messageId: string): string
  /** SET of ids of messages a node sent that still have a queued receipt. */
  outbox(node: string): string
  /** ZSET message id -> created at (ms) of every message a node sent that is still kept (queued or finished). */
  sent(node: string): string
  /** HASH message id -> bytes counted for it against messages.outbox.maxBytes. */
  sentSizes(node: string): string
  /** STRING: the sum of sentSizes (bytes). */
  sentBytes(node: string): string
  /** ZSET entry -> received at (ms) of the messages a node received; an entry is "{sender}/{message id}". */
  inbox(node: string): string
  /** HASH entry -> message JSON of the messages a node received. */
  inboxData(node: string): string
  /** STRING: the sum of the lengths of inboxData's values (bytes, counted against messages.inbox.maxBytes). */
  inboxBytes(node: string): string
  /** The prefix itself. */
  readonly prefix: string
  /** HASH of one task: state, priority, task_data (JSON), attempts, agent_id, timestamps, result/error. */
  task(taskId: string): string
  /** What task() puts before the id; scripts build task keys from it. */
  readonly taskPrefix: string
  /** What agent() puts before the id; scripts build agent keys from it. */
  readonly agentPrefix: string
  /**
   * ZSET task id -> when it may be assigned (ms, Redis clock), one per priority and requirement
   * class: `tasks:queue:{priority}` for tasks without requirements (class ''), else
   * `tasks:queue:{priority}:{class}`.
   */
  queue(priority: string, requirementClass?: string): string
  /** The two parts scripts build queue keys from: queuePrefix + priority [+ classSeparator + class]. */
  readonly queuePrefix: string
  readonly classSeparator: string
  /** HASH requirement class id -> its requirements (JSON), for the classes that have queued tasks. */
  readonly requirementClasses: string
  /** ZSET task id -> when it finished, of completed (and of failed) tasks still kept (retention). */
  readonly completedTasks: string
  readonly failedTasks: string
  /** SET of the ids of agents with an endpoints.http (tasks are pushed to them). */
  readonly pushAgents: string
  /** SET of the ids of push agents whose circuit is open or half open (members may be stale: read the hash). */
  readonly pushCircuits: string
  /** Pub/sub channel of task events (work ready, ready later, assigned to a pull agent, agents changed). */
  readonly taskEvents: string
  /** Pub/sub channel of the tasks handed to the polls one daemon instance holds (only that daemon hears them). */
  handOffs(instance: string): string
  /** What handOffs() puts before the instance; scripts build the channel from it. */
  readonly handOffsPrefix: string
  /** ZSET agent id -> until when its long poll waits (ms, Redis clock): a submit hands a task to one at once. */
  readonly waitingAgents: string
  /** HASH agent id -> instance id of the daemon holding its poll. */
  readonly waitingAt: string
  /** ZSET task id -> lease end (ms) of every assigned task. */
  readonly leases: string
  /** ZSET task id -> when it was dead-lettered. */
  readonly deadTasks: string
  /** STRING idempotency key -> task id (24 h). */
  idempotency(key: string): string
  /**
   * LIST of task ids assigned to a pull agent, not yet fetched. Not under
   * agent:, so the operator guide's `KEYS agent:*` finds agent hashes only.
   */
  agentTasks(agentId: string): string
  /** What agentTasks() puts before the id. */
  readonly agentTasksPrefix: string
  /** HASH of shared task counters (submitted, distributed, completed, failed, retried, dead, ...). */
  readonly taskStats: string
  /** STRING: the load-balancing strategy every daemon uses. */
  readonly strategy: string
  /** STRING: round-robin counter. */
  readonly roundRobin: string
  /** STRING: one operation's journal record (JSON), kept 7 days. */
  op(opId: string): string
  /** ZSET op id -> created (ms): the journal's index, newest last, trimmed to 7 days and 1000 entries. */
  readonly opsRecent: string
  /** SET of ids of a node's operations not finished yet (marked interrupted after a restart). */
  opsRunning(node: string): string
  /** LIST of the changing node actions served for one operation (JSON entries), kept as long as the operation. */
  opActions(opId: string): string
  /** STREAM of an operation's progress and its final "done" entry (the SSE of any daemon reads it). */
  opEvents(opId: string): string
  /** Pub/sub channel: an operation id, published when its event stream grew. */
  readonly opEventsChannel: string
  /** HASH node name -> peer id, pinned on first sight (trust on first use); `nodes forget` removes one. */
  readonly nodeBindings: string
}

export function redisKeys(prefix = ''): RedisKeys {
  const taskPrefix = `${prefix}task:`
  const agentPrefix = `${prefix}agent:`
  const queuePrefix = `${prefix}tasks:queue:`
  const classSeparator = ':'
  const agentTasksPrefix = `${prefix}agent-tasks:`
  const agentIndexPrefixes = {
    type: `${prefix}agents:by-type:`,
    capability: `${prefix}agents:by-capability:`,
    service: `${prefix}agents:by-service:`,
  }
  return {
    agent: (agentId) => agentPrefix + agentId,
    agentPrefix,
    activeAgents: `${prefix}agents:active`,
    allAgents: `${prefix}agents:all`,
    agentHeartbeats: `${prefix}agents:heartbeats`,
    agentsByType: (agentType) => agentIndexPrefixes.type + agentType,
    agentsByCapability: (capability) => agentIndexPrefixes.capability + capability,
    agentsByService: (service) => agentIndexPrefixes.service + service,
    agentIndexPrefixes,
    agentHealth: `${prefix}agents:by-health`,
    agentIndexBuilt: `${prefix}agents:index-built`,
    clusterId: `${prefix}cluster:id`,
    message: (messageId) => `${prefix}msg:${messageId}`,
    outbox: (node) => `${prefix}node:${node}:outbox`,
    sent: (node) => `${prefix}node:${node}:sent`,
    sentSizes: (node) => `${prefix}node:${node}:sent:sizes`,
    sentBytes: (node) => `${prefix}node:${node}:sent:bytes`,
    inbox: (node) => `${prefix}node:${node}:inbox`,
    inboxData: (node) => `${prefix}node:${node}:inbox:data`,
    inboxBytes: (node) => `${prefix}node:${node}:inbox:bytes`,
    prefix,
    task: (taskId) => taskPrefix + taskId,
    taskPrefix,
    queue: (priority, requirementClass = '') =>
      queuePrefix + priority + (requirementClass === '' ? '' : classSeparator + requirementClass),
    queuePrefix,
    classSeparator,
    requirementClasses: `${prefix}tasks:classes`,
    completedTasks: `${prefix}tasks:completed`,
    failedTasks: `${prefix}tasks:failed`,
    pushAgents: `${prefix}agents:push`,
    pushCircuits: `${prefix}agents:push-circuits`,
    taskEvents: `${prefix}tasks:events`,
    handOffs: (instance) => `${prefix}tasks:handoffs:${instance}`,
    handOffsPrefix: `${prefix}tasks:handoffs:`,
    waitingAgents: `${prefix}tasks:waiting`,
    waitingAt: `${prefix}tasks:waiting:at`,
    leases: `${prefix}tasks:leases`,
    deadTasks: `${prefix}tasks:dead`,
    idempotency: (key) => `${prefix}tasks:idem:${key}`,
    agentTasks: (agentId) => agentTasksPrefix + agentId,
    agentTasksPrefix,
    taskStats: `${prefix}tasks:stats`,
    strategy: `${prefix}lb:strategy`,
    roundRobin: `${prefix}lb:rr`,
    op: (opId) => `${prefix}ops:${opId}`,
    opsRunning: (node) => `${prefix}node:${node}:ops:running`,
    opsRecent: `${prefix}ops:recent`,
    opActions: (opId) => `${prefix}ops:${opId}:actions`,
    opEvents: (opId) => `${prefix}ops:${opId}:events`,
    opEventsChannel: `${prefix}ops:events`,
    nodeBindings: `${prefix}cluster:node-peer-ids`,
  }
}
