import { StreamState, YamuxStream } from '@libp2p/yamux/stream'

/** The fields of a yamux stream the window rule reads (private in the library's types). */
interface WindowState {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
}

type Patched = { sendWindowUpdate(): void, [LAZY]?: true }
const LAZY = Symbol.for('aitbc.yamux.lazyWindowUpdate')

/**
 * Yamux window updates only once half the receive window is used, as Go's
 * and Rust's yamux do (hashicorp/yamux `sendWindowUpdate`: no update while the
 * delta is under half the window and there is no flag to send).
 *
 * @libp2p/yamux 8.0.3 (like @chainsafe/libp2p-yamux 7 before it) sends one after every data frame it reads,
 * however small: each liveness beat and status frame cost a second frame back,
 * a write and a read on both sides (a third of an idle daemon's socket writes
 * in a 10-node mesh). The sender is never blocked by waiting: it still has the
 * other half of its window when the update is sent. A frame that opens or
 * accepts a stream (SYN/ACK flags) and the window's growth are the library's
 * own code, called as before.
 *
 * Applied once, on the library's stream class (the muxer builds its streams
 * itself, so there is no other hook); idempotent.
 */
export function installLazyWindowUpdates(): void {
  const proto = YamuxStream.prototype as unknown as Patched
  if (proto[LAZY] === true) return
  const eager = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: WindowState & Patched) {
    // Init and SYNReceived have a flag (SYN, ACK) to send: always the library's own path.
    const flagged = this.state === StreamState.Init || this.state === StreamState.SYNReceived
    if (!flagged && this.recvWindowCapacity > this.recvWindow / 2) return
    eager.call(this)
  }
  proto[LAZY] = true
}
