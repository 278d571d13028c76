import { createParser } from 'eventsource-parser'
import type { Command } from 'commander'
import type { OpReport } from '../../ops/index.js'
import { CliError, callApi } from '../api-client.js'
import { healthChecksText } from '../health-checks-text.js'
import { send } from '../http.js'
import type { Target, TargetOf } from '../output.js'
import { table } from '../table.js'

interface OpFlags {
  target: string
  verify: boolean
  force?: boolean
  timeout?: string
  type?: string
  action?: string
}

/** An operation's report as text: summary, a row per node, deep checks of a health report, issues, recommendations. */
export function reportText(r: OpReport): string {
  const rows = Object.entries(r.nodes_status).map(([name, n]) => [
    name, n.status, n.block_height === null ? '-' : String(n.block_height), n.mempool_size === null ? '-' : String(n.mempool_size),
    n.p2p_connections === null ? '-' : String(n.p2p_connections), n.service_uptime ?? '-',
  ])
  const lines = [
    `${r.summary} (${r.validation_status}, confidence ${r.confidence}, ${r.execution_time} s)`,
    table(['NODE', 'STATUS', 'HEIGHT', 'MEMPOOL', 'PEERS', 'UPTIME'], rows),
  ]
  const checks = r.details?.checks
  if (r.operation === 'health' && checks !== undefined) lines.push(healthChecksText(checks))
  for (const i of r.issues) lines.push(`! ${i.node} [${i.step}] ${i.error}\n    -> ${i.suggestion}`)
  for (const rec of r.recommendations) lines.push(`* ${rec}`)
  return lines.join('\n')
}

/** Exit codes of seed 000 operations: 0 success, 1 failed, 2 partial. */
export const exitCodeOf = (r: OpReport): number => (r.validation_status === 'success' ? 0 : r.validation_status === 'partial' ? 2 : 1)

export function timeoutSeconds(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new CliError('--timeout expects seconds, e.g. --timeout 60', 2)
  return n
}

const DESCRIPTIONS = {
  status: 'status of the nodes, checked live (seed 000 status)',
  health: 'deep health checks of the nodes (seed 000 health)',
  sync: 'sync git, blockchain, mempool or configuration across the nodes (seed 000 sync)',
  coordinate: 'run an allowlisted action (ops.actions) on the nodes in stages (seed 000 coordinate)',
} as const

/**
 * Starts an operation and follows its server-sent events, printing a line
 * per node as results arrive, then the report; sets the seed exit code.
 */
export async function runOperation(t: Target, body: Record<string, unknown>): Promise<void> {
  const started = await callApi(t, 'POST', '/ops?wait=0', body)
  const headers: Record<string, string> = { accept: 'text/event-stream' }
  if (t.token) headers.authorization = `Bearer ${t.token}`
  const url = new URL(`/ops/${String(started.op_id)}/events`, t.url)
  const got: { report: OpReport | null } = { report: null }
  let lastId: string | undefined
  const parser = createParser({
    onEvent: (e) => {
      lastId = e.id ?? lastId
      if (e.event === 'done') got.report = JSON.parse(e.data) as OpReport | null
      else if (e.event === 'progress' && !t.json) {
        const p = JSON.parse(e.data) as { node: string | null, step: string, detail: string }
        t.io.out(`  ${p.node ?? '*'} ${p.step}: ${p.detail}\n`)
      }
    },
  })
  // A dropped stream is picked up where it stopped (Last-Event-ID), a few times, before giving up.
  for (let attempt = 0; got.report === null && attempt < 5; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 500))
    const res = await send(url, { headers: lastId === undefined ? headers : { ...headers, 'last-event-id': lastId } }).catch(() => null)
    if (res === null) continue
    if (res.statusCode === 204) break
    if (res.statusCode !== 200) throw new CliError(`cannot follow operation ${String(started.op_id)}: HTTP ${res.statusCode}`)
    const decoder = new TextDecoder()
    try {
      for await (const chunk of res) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }))
    } catch {
      // The connection dropped: the next attempt resumes.
    }
    parser.reset({ consume: true })
  }
  const { report } = got
  if (report === null) throw new CliError(`operation ${String(started.op_id)} ended without a report (its daemon stopped); see GET /ops/${String(started.op_id)}`)
  t.io.out(`${t.json ? JSON.stringify({ op_id: started.op_id, ...report }, null, 2) : reportText(report)}\n`)
  t.io.exitCode = exitCodeOf(report)
}

/** `aitbc-node status|health|sync|coordinate` (seed 000 operations run by the daemon at --url). */
export function opsCommands(program: Command, target: TargetOf): void {
  for (const operation of ['status', 'health', 'sync', 'coordinate'] as const) {
    const cmd = program
      .command(operation)
      .description(DESCRIPTIONS[operation])
      .option('--target <node>', 'a node name or all', 'all')
      .option('--no-verify', 'use the gossiped view only, no live check')
      .option('--force', 'allow restarts and config changes (seed 000: never without force)')
      .option('--timeout <s>', 'deadline in seconds (default 60, at most 120)')
    if (operation === 'sync') cmd.option('--type <type>', 'git, blockchain, mempool, configuration or all', 'all')
    if (operation === 'coordinate') cmd.requiredOption('--action <name>', 'an action from ops.actions')
    cmd.action(async (o: OpFlags, c: Command) => {
      await runOperation(target(c), {
        operation, target_node: o.target, verify: o.verify, force: o.force ?? false, timeout: timeoutSeconds(o.timeout),
        sync_type: o.type, action: o.action,
      })
    })
  }
}
