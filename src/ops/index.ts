/** Public face of ops: node-local actions (the chain RPC for now). */

export { type ChainReading, ChainMonitor } from './chain/chain-monitor.js'
export { type ChainHead, ChainRpc, ChainRpcError } from './chain/chain-rpc.js'
