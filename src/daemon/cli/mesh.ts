import type { Command } from 'commander'
import type { NodeView, OutgoingRecord, Receipt } from '../../p2p/index.js'
import { type ApiTarget, CliError, callApi } from './api-client.js'
import { runOperation, timeoutSeconds } from './ops.js'
import { table } from './table.js'

type Target = (cmd: Command) => ApiTarget & { json: boolean }

function print(json: boolean, body: unknown, human: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(body, null, 2) : human()}\n`)
}

const dash = (v: unknown): string => (v === null || v === undefined ? '-' : String(v))

function age(ms: number | null): string {
  if (ms === null) return 'never'
  if (ms < 1000) return `${ms}ms`
  return `${(ms / 1000).toFixed(1)}s`
}

function nodesTable(nodes: NodeView[]): string {
  const rows = nodes.map((n) => [
    `${n.name}${n.self ? ' *' : ''}`,
    n.status,
    dash(n.block_height),
    dash(n.mempool_size),
    dash(n.p2p_connections),
    dash(n.service_uptime),
    age(n.last_seen_ms),
    dash(n.version),
    n.peer_id === null ? '-' : `${n.peer_id.slice(0, 8)}..${n.peer_id.slice(-6)}`,
    n.registry_mismatch === null ? dash(n.reason) : `REGISTRY MISMATCH: ${n.registry_mismatch}`,
  ])
  return table(['NODE', 'STATUS', 'HEIGHT', 'MEMPOOL', 'PEERS', 'UPTIME', 'LAST SEEN', 'VERSION', 'PEER ID', 'NOTE'], rows)
}

function receiptsTable(receipts: Record<string, Receipt>): string {
  return table(
    ['TARGET', 'RECEIPT', 'ATTEMPTS', 'REASON'],
    Object.entries(receipts).map(([t, r]) => [t, r.state, String(r.attempts), dash(r.reason)]),
  )
}

function messageSummary(res: Record<string, unknown>): string {
  const d = res.message_delivery as { sent: number, delivered: number, failed: number, queued: number }
  return [
    `message ${String(res.message_id)} to ${String(res.to)}: sent ${d.sent}, delivered ${d.delivered}, failed ${d.failed}, queued ${d.queued}`,
    receiptsTable(res.receipts as OutgoingRecord['receipts']),
  ].join('\n')
}

function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0) throw new CliError(`--${flag} expects whole milliseconds, e.g. --${flag} 60000`, 2)
    return n
  }
}

interface MessageFlags {
  to?: string
  target?: string
  timeout?: string
  ttl?: number
  wait?: number
}

/** `aitbc-node nodes`, `aitbc-node message`, `aitbc-node messages show|inbox`. */
export function meshCommands(program: Command, target: Target): void {
  const nodes = program
    .command('nodes')
    .description('show every node of the mesh as this daemon sees it')
    .action(async (_o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'GET', '/nodes')
      const rows = Object.values(res.nodes_status as Record<string, NodeView>)
      print(t.json, res, () => [nodesTable(rows), ...(res.identity_conflicts as string[]).map((c) => `identity conflict: ${c}`)].join('\n'))
    })
  nodes
    .command('forget')
    .description('unpin a node name from its peer id (admin), e.g. after the node was rebuilt with a new key; the next claim pins it again')
    .argument('<name>', 'the node name')
    .action(async (name: string, _o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'DELETE', `/nodes/${encodeURIComponent(name)}/binding`)
      print(t.json, res, () => String(res.message))
    })

  program
    .command('message')
    .description('send a message with delivery receipts: --to prints the receipts, --target runs seed 000\'s message operation')
    .option('--to <node>', 'node name or "all"')
    .option('--target <node>', 'node name or "all" (seed 000 report)')
    .option('--timeout <s>', 'with --target: deadline in seconds')
    .option('--ttl <ms>', 'keep retrying for this long (default messages.defaultTtlMs)', positiveInt('ttl'))
    .option('--wait <ms>', 'wait this long for receipts before answering (default 2000)', positiveInt('wait'))
    .argument('<text>', 'the message text')
    .action(async (text: string, o: MessageFlags, cmd: Command) => {
      const t = target(cmd)
      if (o.target !== undefined) {
        await runOperation(t, { operation: 'message', target_node: o.target, message: text, timeout: timeoutSeconds(o.timeout) })
        return
      }
      if (o.to === undefined) throw new CliError('say who gets it: --to NODE|all (receipts) or --target NODE|all (seed 000 report)', 2)
      const res = await callApi(t, 'POST', '/messages', { to: o.to, body: text, ttl_ms: o.ttl, wait_ms: o.wait })
      print(t.json, res, () => messageSummary(res))
    })

  const messages = program.command('messages').description('look at sent and received messages')
  messages
    .command('show')
    .description('receipts of a message this node sent')
    .argument('<id>', 'message id')
    .action(async (id: string, _o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'GET', `/messages/${encodeURIComponent(id)}`)
      print(t.json, res, () => messageSummary(res))
    })
  messages
    .command('inbox')
    .description('messages this node received, newest first')
    .option('--limit <n>', 'how many (default 100)', positiveInt('limit'))
    .action(async (o: { limit?: number }, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'GET', `/messages/inbox${o.limit === undefined ? '' : `?limit=${o.limit}`}`)
      const rows = (res.messages as { id: string, from: string, received_at: number, body: unknown }[]).map((m) => [
        new Date(m.received_at).toISOString(),
        m.from,
        m.id,
        typeof m.body === 'string' ? m.body : JSON.stringify(m.body),
      ])
      print(t.json, res, () => table(['RECEIVED', 'FROM', 'ID', 'BODY'], rows))
    })
}
