/** Public face of the p2p module: the mesh, its view of the nodes, messages with receipts, RPC. */

export { type PeerDirectory } from './dial-node.js'
export { P2pError } from './errors.js'
export { Mesh, type MeshInit } from './mesh.js'
export { type MeshHealth, meshHealth } from './mesh-health.js'
export { refusalLogger } from './refusal-log.js'
export { statusKeepaliveMs } from './status-keepalive.js'
export { type StatusEvent } from './status-gossip.js'
export { type InboundConnectionLimits } from './mesh-node.js'
export { type MalformedKind, type MalformedStatusLimits } from './malformed-statuses.js'
export { type PendingDrop } from './pending-inbound.js'
export { type Admission, type BindingStore, NameBindings, type Refusal, type RefusalReason } from './name-bindings.js'
export { type MembershipView, type NodeState, type NodeTransition, type NodeView } from './membership-view.js'
export {
  isFinal,
  type InboundMessage,
  type MessageStore,
  type OutgoingMessage,
  type OutgoingRecord,
  type Receipt,
  RECEIPT_STATES,
  type ReceiptState,
} from './messages/message-store.js'
export { type InboundMessageLimits, type Messenger, type SendRequest } from './messages/messenger.js'
export { type MessageRefusalReason } from './messages/message-receiver.js'
export { SenderRate, type SenderRateInit } from './messages/sender-rate.js'
export { MAX_MESSAGE_BODY_CEILING_BYTES, MAX_MESSAGE_FRAME_BYTES, MESSAGE_PROTOCOL, messageBodyBytes } from './messages/wire.js'
export {
  type ChainStatus,
  formatUptime,
  type LocalStatus,
  type NodeStatus,
  type RegistryFingerprint,
  STATUS_TOPIC,
} from './node-status.js'
export { hostOf, peerMultiaddr } from './peer-address.js'
export { createPskText, readPskFile } from './psk.js'
export { nodePeerId } from './identity.js'
export { type RpcCallContext, RpcError, type RpcMethod, type RpcService } from './rpc/rpc-service.js'
export { MAX_RPC_FRAME_BYTES, RPC_PROTOCOL } from './rpc/wire.js'
