import type { Command } from 'commander'
import { callApi } from '../api-client.js'
import { print, type TargetOf } from '../output.js'
import { type Stats, statsText } from './tasks.js'

/** The operator guide's `ai` commands, `ai status` as one line per check (exit 1 when unhealthy). */
export function aiCommands(program: Command, target: TargetOf): void {
  const ai = program.command('ai').description('the operator guide\'s ai commands')
  ai.command('distribution-stats').description('task distribution statistics (same as tasks status)')
    .action(async (_o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'GET', '/tasks/status')
      print(t, res, () => statsText(res.stats as Stats))
    })
  ai.command('status').description('the guide\'s "CLI health check": the daemon\'s health, its checks and warnings (exit 1 when unhealthy)')
    .action(async (_o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'GET', '/health')
      const checks = Object.entries(res.checks as Record<string, { ok: boolean }>).map(([k, c]) => `${k}: ${c.ok ? 'ok' : 'NOT OK'}`)
      const warnings = (res.warnings as string[]).map((w) => `! ${w}`)
      print(t, res, () => [`${res.node}: ${res.status} (version ${res.version})`, ...checks, ...warnings].join('\n'))
    })
}
