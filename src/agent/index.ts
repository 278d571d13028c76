/** Public face of the agent side: what an agent author imports as `aitbc-node/agent`. */

export { type AgentRegistration, AgentWorker, type AgentWorkerEvents, type AgentWorkerInit, type Processor, UnrecoverableError } from './agent-worker.js'
export { type AgentTask, CoordinatorApiError, CoordinatorClient, CoordinatorUnreachableError } from './coordinator-client.js'
export { execProcessor } from './exec-processor.js'
