/** Serf agents (Debian's `serf`) on loopback, the peer the mesh benchmarks run beside. */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { freePort } from '../test/fixtures/poll.js'

const run = promisify(execFile)

export interface SerfAgent { name: string, bind: string, rpc: string, child: ChildProcess }

/** Spawns an agent (joining `join`, a bind address, if given; `extra`: more agent flags); it is up once `serfMembers` answers. */
export async function spawnSerf(name: string, join?: string, extra: string[] = []): Promise<SerfAgent> {
  const bind = `127.0.0.1:${await freePort()}`
  const rpc = `127.0.0.1:${await freePort()}`
  const child = spawn('serf', [
    'agent', `-node=${name}`, `-bind=${bind}`, `-rpc-addr=${rpc}`, '-log-level=err', ...(join === undefined ? [] : [`-join=${join}`]), ...extra,
  ], { stdio: 'ignore' })
  return { name, bind, rpc, child }
}

/** Each member's status (alive, failed, left) as this agent lists it. */
export async function serfMembers(a: SerfAgent): Promise<Record<string, string>> {
  const { stdout } = await run('serf', ['members', `-rpc-addr=${a.rpc}`, '-format=json'])
  const list = (JSON.parse(stdout) as { members: { name: string, status: string }[] }).members
  return Object.fromEntries(list.map((m) => [m.name, m.status]))
}
