import type { Command } from 'commander'
import type { OutgoingRecord, Receipt } from '../../p2p/index.js'
import { CliError, callApi } from '../api-client.js'
import { print, type TargetOf } from '../output.js'
import { dash, table } from '../table.js'
import { runOperation, timeoutSeconds } from './operations.js'

function receiptsTable(receipts: Record<string, Receipt>): string {
  return table(
    ['TARGET', 'RECEIPT', 'ATTEMPTS', 'REASON'],
    Object.entries(receipts).map(([t, r]) => [t, r.state, String(r.attempts), dash(r.reason)]),
  )
}

/** A sent message as `message --to` and `messages show` print it: the counts, then a receipt per target. */
export function messageSummary(res: Record<string, unknown>): string {
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

/** `aitbc-node message`, `aitbc-node messages show|inbox`. */
export function messageCommands(program: Command, target: TargetOf): void {
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
      print(t, res, () => messageSummary(res))
    })

  const messages = program.command('messages').description('look at sent and received messages')
  messages
    .command('show')
    .description('receipts of a message this node sent')
    .argument('<id>', 'message id')
    .action(async (id: string, _o, cmd: Command) => {
      const t = target(cmd)
      const res = await callApi(t, 'GET', `/messages/${encodeURIComponent(id)}`)
      print(t, res, () => messageSummary(res))
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
      print(t, res, () => table(['RECEIVED', 'FROM', 'ID', 'BODY'], rows))
    })
}
