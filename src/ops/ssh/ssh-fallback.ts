import type { SshCheck } from '../operations/cluster-access.js'
import { sshExec } from './ssh-transport.js'

/** Where and how the SSH fallback reaches a node (its p2p.peers[].ssh entry and the ssh settings). */
export interface SshFallbackSettings {
  /** The SSH path of a node, or undefined when none is configured. */
  pathOf(node: string): { host: string, port: number, user: string, keyFile: string } | undefined
  knownHostsFile: string
  connectTimeoutMs: number
  commandTimeoutMs: number
  serviceManager: string
  daemonService: string
  chainService: string
}

/**
 * Seed 000's fallback for a node whose daemon does not answer: over SSH (host
 * key checked first), the state of its daemon and chain services, and with
 * force a start of the daemon. Fixed templates with quoted arguments: nothing
 * from a request reaches the command line. null when no SSH path is configured.
 */
export async function sshFallbackCheck(
  s: SshFallbackSettings,
  node: string,
  force: boolean,
  signal: AbortSignal,
): Promise<SshCheck | null> {
  const path = s.pathOf(node)
  if (path === undefined) return null
  const target = { node, ...path, knownHostsFile: s.knownHostsFile }
  const opts = { connectTimeoutMs: s.connectTimeoutMs, commandTimeoutMs: s.commandTimeoutMs, signal }
  const state = async (service: string): Promise<string> =>
    (await sshExec(target, [s.serviceManager, 'is-active', service], opts)).output.split('\n').pop() || 'unknown'
  const daemon = await state(s.daemonService)
  const chain = await state(s.chainService)
  let started = false
  if (force && daemon !== 'active') {
    const res = await sshExec(target, [s.serviceManager, 'start', s.daemonService], opts)
    started = res.code === 0
  }
  return { daemon, chain, started }
}
