/** Public face of the agent side: what an agent author imports as `aitbc-node/agent`. */

export { type AgentRegistration, AgentWorker, type AgentWorkerEvents, type AgentWorkerInit, type Processor, UnrecoverableError } from './agent-worker.js'
export { type AgentTask, CoordinatorApiError, CoordinatorClient, CoordinatorUnreachableError } from './coordinator-client.js'
export {
  DEFAULT_CLOSE_TIMEOUT_MS, DEFAULT_CONCURRENCY, DEFAULT_POLL_WAIT_MS, DEFAULT_STALE_AFTER_MS, DEFAULT_TASK_TIMEOUT_MS,
  MAX_HEARTBEAT_MS,
} from './defaults.js'
export { execProcessor } from './exec-processor.js'
