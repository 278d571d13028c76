/** Why a node refused or could not run a node action; the code travels back over the RPC. */
export type NodeActionErrorCode =
  | 'ERR_ACTION_UNKNOWN'
  | 'ERR_ACTION_BAD_PARAMS'
  | 'ERR_ACTION_BAD_OP_ID'
  | 'ERR_ACTION_FORBIDDEN'
  | 'ERR_ACTION_DEADLINE'
  | 'ERR_ACTION_BUSY'
  | 'ERR_ACTION_BAD_RESULT'

export class NodeActionError extends Error {
  constructor(readonly code: NodeActionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'NodeActionError'
  }
}
