import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AgentTask } from './coordinator-client.js'

/** A running push endpoint. */
export interface PushServer {
  /** What to register as endpoints.http. */
  readonly url: string
  close(): Promise<void>
}

const MAX_BODY = 1024 * 1024

async function readBody(req: IncomingMessage): Promise<unknown> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length
    if (size > MAX_BODY) throw new Error('body too large')
    chunks.push(c)
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
}

/**
 * Serves seed 001's push: POST /tasks/execute with the task. The task is
 * accepted (200, then run and reported to the coordinator), refused as busy
 * (429: the coordinator retries it later), or refused as not this agent's
 * (403: the coordinator does not have it assigned to us, so nothing runs).
 */
export async function startPushServer(o: {
  port: number
  host?: string
  publicUrl?: string
  accept(task: AgentTask): Promise<'accepted' | 'busy' | 'not-ours'>
}): Promise<PushServer> {
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.method !== 'POST' || req.url !== '/tasks/execute') return send(404, { status: 'error', message: 'POST /tasks/execute only' })
    readBody(req).then(async (raw) => {
      const t = raw as Partial<AgentTask> & { attempt?: number }
      if (typeof t?.task_id !== 'string' || typeof t.task_data !== 'object') return send(400, { status: 'error', message: 'expected {task_id, task_data, ...}' })
      const task: AgentTask = {
        task_id: t.task_id, priority: String(t.priority ?? 'normal'), task_data: t.task_data ?? {}, requirements: t.requirements ?? {},
        attempts: t.attempt ?? t.attempts ?? 1, timeout_ms: t.timeout_ms as number, lease_until: t.lease_until ?? null,
      }
      const verdict = await o.accept(task)
      if (verdict === 'accepted') send(200, { status: 'accepted', task_id: task.task_id })
      else if (verdict === 'busy') send(429, { status: 'error', message: 'at capacity; retry later' })
      else send(403, { status: 'error', message: 'this task is not assigned to this agent' })
    }).catch((err: unknown) => send(400, { status: 'error', message: `bad request: ${(err as Error).message}` }))
  })
  const host = o.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: o.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => new Promise((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}
