import { NODE_ACTIONS, type NodeActionResult } from './contract.js'
import { NodeActionError } from './errors.js'
import type { NodeActionServer } from './node-action-server.js'
import type { ClusterAccess } from '../operations/cluster-access.js'

/** How a node action reaches a peer: the mesh RPC, with the operation id and the deadline. */
export type RemoteCall = (
  node: string,
  action: string,
  params: unknown,
  opts: { timeoutMs: number, signal: AbortSignal, opId: string },
) => Promise<unknown>

/**
 * Runs node actions for this node's operations: on this node through the
 * same server peers call (same authority, same slots), on others over the
 * RPC; every answer is checked against the contract before it is used.
 */
export function nodeActionClient(self: { name: string, peerId: string }, server: NodeActionServer, remote: RemoteCall) {
  const invoke: ClusterAccess['invoke'] = async (node, action, params, call) => {
    const { signal, deadlineAt, opId } = call
    const answer = node === self.name
      ? await server.invoke(action, params, { name: self.name, peerId: self.peerId, opId }, deadlineAt, signal)
      // The operation's own deadline (signal) ends the call; the call's timer is only a backstop.
      : await remote(node, action, params, { timeoutMs: Math.max(1, deadlineAt - Date.now()) + 1000, signal, opId })
    const checked = NODE_ACTIONS[action].result.safeParse(answer)
    if (!checked.success) {
      const issue = checked.error.issues[0]
      throw new NodeActionError('ERR_ACTION_BAD_RESULT', `${node} answered ${action} off its contract at ${issue?.path.join('.')}: ${issue?.message}`)
    }
    return checked.data as NodeActionResult<typeof action>
  }
  return invoke
}
