/** Public face of ops: node-local actions (chain RPC), the operation engine and the operations. */

export { type ChainReading, ChainMonitor } from './chain/chain-monitor.js'
export { type ChainHealth, chainHealth } from './chain/chain-health.js'
export { localStatus, type LocalStatusSources } from './local/local-status.js'
export { LeftoverGroups } from './local/leftover-groups.js'
export { type ChainHead, ChainRpc, ChainRpcError } from './chain/chain-rpc.js'
export { type TargetResult } from './engine/fan-out.js'
export {
  type ActionRecord,
  type NodeStatusLine,
  type OpEvent,
  type Operation,
  OPERATIONS,
  type OpIssue,
  type OpRecord,
  type OpReport,
  type OpRequest,
  opIdSchema,
  opRequestSchema,
} from './engine/op-types.js'
export {
  type OpContext, type OpEventLog, OpsBusyError, OpsEngine, type OpsEngineInit, type OpsJournal, type OpRunner,
} from './engine/ops-engine.js'
export {
  type ClusterAccess,
  type LiveHealth,
  type LiveStatus,
  type ActionCall,
  resolveTargets,
  type SshCheck,
  UnknownTargetError,
} from './operations/cluster-access.js'
export { GitError, gitHead, syncGit, type GitSyncResult } from './local/git-sync.js'
export { type ProcessResult, runProcess } from './local/run-process.js'
export { type ProcessGroupLedger, ProcessGroupFiles, reapLeftGroups, type ReapResult } from './local/process-groups.js'
export * from './node-actions/index.js'
export { controlService, runAction } from './local/service-control.js'
export { configDigests, readConfigFile, writeConfigFile } from './local/config-digest.js'
export { ActionRefusedError, checkAction, coordinateRunner } from './operations/coordinate-op.js'
export { messageRunner } from './operations/message-op.js'
export { type ChainAnswer, syncRunner } from './operations/sync-op.js'
export { statusRunner } from './operations/status-op.js'
export { hostKeyProblem, type KnownHostKeys, knownHostKeys, knownHostsName } from './ssh/known-hosts.js'
export { shellQuote, SshError, sshExec, type SshTarget } from './ssh/ssh-transport.js'
export { sshFallbackCheck, type SshFallbackSettings } from './ssh/ssh-fallback.js'
