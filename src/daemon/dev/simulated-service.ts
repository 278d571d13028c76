/**
 * The service-manager stand-in of the local cluster (`aitbc-node
 * simulate-service --chain-url URL VERB SERVICE`), called where systemctl
 * would be: restart/start restart the simulated chain, is-active asks its
 * health. Prints what systemctl would, exits as it would.
 */
export async function simulateService(chainUrl: string, verb: string, service: string): Promise<number> {
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`)
  }
  try {
    if (verb === 'restart' || verb === 'start') {
      const res = await fetch(new URL('/sim/restart', chainUrl), { method: 'POST', signal: AbortSignal.timeout(5000) })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      out(`${service} ${verb === 'start' ? 'started' : 'restarted'} (simulated chain at ${chainUrl})`)
      return 0
    }
    if (verb === 'health') {
      const head = await (await fetch(new URL('/rpc/head', chainUrl), { signal: AbortSignal.timeout(5000) })).json() as { height: number, hash: string }
      out(`chain ok: height ${head.height}, hash ${head.hash} (simulated chain at ${chainUrl})`)
      return 0
    }
    if (verb === 'is-active' || verb === 'status') {
      const res = await fetch(new URL('/health', chainUrl), { signal: AbortSignal.timeout(5000) })
      out(res.ok ? 'active' : 'failed')
      return res.ok ? 0 : 3
    }
    process.stderr.write(`simulated service manager: unknown verb ${verb} (restart, start, is-active)\n`)
    return 2
  } catch (err) {
    out('inactive')
    process.stderr.write(`${service}: the simulated chain at ${chainUrl} does not answer: ${(err as Error).message}\n`)
    return 3
  }
}
