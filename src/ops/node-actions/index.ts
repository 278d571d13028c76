/** The node-local actions: one typed contract, served with the serving node's authority, limits and journal. */

export { ActionSlots } from './action-slots.js'
export { type ActionCaller, authorizeChange } from './authority.js'
export {
  type ChainAnswer,
  isNodeAction,
  type LiveHealth,
  type LiveStatus,
  NODE_ACTIONS,
  type NodeActionName,
  type NodeActionParams,
  type NodeActionResult,
} from './contract.js'
export { NodeActionError, type NodeActionErrorCode } from './errors.js'
export { liveHealth, liveStatus, type NodeActionDeps, nodeActionHandlers } from './handlers.js'
export { NodeActionServer, type NodeActionHandlers, type NodeActionServerInit } from './node-action-server.js'
export { nodeActionClient, type RemoteCall } from './node-action-client.js'
