import { z } from 'zod'
import { opRequestSchema } from '../../../ops/index.js'
import { agentId, discoverBody, heartbeatBody, registerBody, statusBody } from '../../registry/agent.js'
import { completeSchema, failSchema, MAX_SUBMIT_BATCH, PRIORITIES, submitBatchSchema, submitSchema } from '../../tasks/task.js'
import type { Scope } from '../auth.js'
import { inboxQuery, sendMessageBody } from '../routes/messages.js'
import { journalQuery, opsQuery } from '../routes/ops.js'
import { completeQuery, deadQuery, nextTaskQuery, queueStatsQuery, strategyBody } from '../routes/tasks.js'
import { errorBody, responses } from './responses.js'

/** The limits that shape the request schemas (the daemon's config). */
export interface OpenApiLimits {
  maxTaskTimeoutMs: number
  maxOpsTimeoutMs: number
  maxMessageTtlMs: number
  version: string
}

type Answer = { description: string, schema?: z.ZodType, text?: string }

/** One route as the document describes it; the schemas are the ones the route validates with. */
interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'delete'
  path: string
  tag: string
  summary: string
  /** Scopes any of which is enough; null: no authentication (health, the document itself). */
  scopes: Scope[] | null
  body?: z.ZodType
  query?: z.ZodObject
  params?: Record<string, z.ZodType>
  ok: Record<number, Answer>
  /** Error statuses this route answers besides the common ones. */
  errors?: Record<number, string>
  example?: unknown
}

const id = z.uuid()
const name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i)

function routes(l: OpenApiLimits): RouteDoc[] {
  const read: Scope[] = ['read', 'agent', 'operate']
  const agentParams = { id: agentId }
  return [
    {
      method: 'post', path: '/agents/register', tag: 'agents', summary: 'Register or update an agent (seed 001)', scopes: ['agent'], body: registerBody,
      ok: { 200: { description: 'registered', schema: responses.register } },
      example: {
        agent_id: 'hermes-agent', agent_type: 'worker', capabilities: ['data-processing', 'analysis', 'general'], services: ['task-execution', 'analysis'],
        endpoints: { http: 'http://localhost:9002' }, metadata: { version: '1.0.0' },
      },
    },
    {
      method: 'post', path: '/agents/discover', tag: 'agents', summary: 'Find agents, healthiest first', scopes: read, body: discoverBody,
      ok: { 200: { description: 'matching agents', schema: responses.discover } }, example: { status: 'active', agent_type: 'worker' },
    },
    { method: 'get', path: '/agents/{id}', tag: 'agents', summary: 'One agent', scopes: read, params: agentParams, ok: { 200: { description: 'the agent', schema: responses.agent } }, errors: { 404: 'AGENT_NOT_FOUND' } },
    { method: 'delete', path: '/agents/{id}', tag: 'agents', summary: 'Remove an agent', scopes: ['agent'], params: agentParams, ok: { 200: { description: 'removed', schema: responses.agentRemoved } }, errors: { 404: 'AGENT_NOT_FOUND' } },
    {
      method: 'post', path: '/agents/{id}/heartbeat', tag: 'agents', summary: 'Heartbeat with load metrics (a stale agent becomes active)', scopes: ['agent'], params: agentParams, body: heartbeatBody,
      ok: { 200: { description: 'heard', schema: responses.heartbeat } }, errors: { 404: 'AGENT_NOT_FOUND' }, example: { load_metrics: { cpu_usage: 40, memory_usage: 55, active_tasks: 2 } },
    },
    {
      method: 'put', path: '/agents/{id}/status', tag: 'agents', summary: 'Set an agent\'s status (the guide\'s update-status)', scopes: ['agent'], params: agentParams, body: statusBody,
      ok: { 200: { description: 'set', schema: responses.agentStatus } }, errors: { 404: 'AGENT_NOT_FOUND' }, example: { status: 'maintenance' },
    },
    {
      method: 'post', path: '/tasks/submit', tag: 'tasks', summary: 'Submit a task (seed 001)', scopes: ['agent', 'operate'], body: submitSchema({ maxTimeoutMs: l.maxTaskTimeoutMs }),
      ok: { 201: { description: 'stored and queued', schema: responses.submitted }, 200: { description: 'the first task with this idempotency key', schema: responses.submitted } },
      errors: { 413: 'TASK_TOO_LARGE', 429: 'QUEUE_FULL' },
      example: { task_data: { model: 'llama2', prompt: 'Hello' }, priority: 'high', requirements: { agent_type: 'worker', capabilities: ['inference'] } },
    },
    {
      method: 'post', path: '/tasks/submit-batch', tag: 'tasks', summary: `Submit up to ${MAX_SUBMIT_BATCH} tasks in one request, in order (as BullMQ's addBulk)`,
      scopes: ['agent', 'operate'], body: submitBatchSchema({ maxTimeoutMs: l.maxTaskTimeoutMs }),
      ok: {
        201: { description: 'every task stored, or found by its idempotency key', schema: responses.submittedBatch },
        429: { description: 'QUEUE_FULL: the queue bound refused some; `tasks` gives each one\'s outcome, so resend only the refused', schema: responses.batchRefused },
      },
      errors: { 413: 'TASK_TOO_LARGE' },
      example: { tasks: [{ task_data: { model: 'llama2', prompt: 'Hello' } }, { task_data: { model: 'llama2', prompt: 'Bye' }, priority: 'low', idempotency_key: 'bye-1' }] },
    },
    { method: 'get', path: '/tasks/status', tag: 'tasks', summary: 'Distribution stats (seed 001)', scopes: read, ok: { 200: { description: 'stats', schema: responses.taskStatus } } },
    { method: 'get', path: '/tasks/queues', tag: 'tasks', summary: 'Queue sizes by priority', scopes: read, ok: { 200: { description: 'sizes', schema: responses.queues } } },
    {
      method: 'get', path: '/tasks/queues/stats', tag: 'tasks', summary: 'Queue sizes, stats and the dead letters waiting (?dead=N lists the newest N), from one read',
      scopes: read, query: queueStatsQuery, ok: { 200: { description: 'stats', schema: responses.queueStats } },
    },
    {
      method: 'post', path: '/tasks/queues/{priority}/clear', tag: 'tasks', summary: 'End a queue\'s tasks as failed (cancelled)', scopes: ['admin'],
      params: { priority: z.enum(PRIORITIES) }, ok: { 200: { description: 'cleared', schema: responses.queueCleared } },
    },
    { method: 'get', path: '/tasks/dead', tag: 'tasks', summary: 'Dead letters', scopes: read, query: deadQuery, ok: { 200: { description: 'dead tasks', schema: responses.deadTasks } } },
    { method: 'get', path: '/tasks/{id}', tag: 'tasks', summary: 'One task', scopes: read, params: { id }, ok: { 200: { description: 'the task', schema: responses.task } }, errors: { 404: 'TASK_NOT_FOUND', 410: 'TASK_EXPIRED' } },
    {
      method: 'post', path: '/tasks/{id}/requeue', tag: 'tasks', summary: 'Put a dead task back with fresh retries', scopes: ['admin'], params: { id },
      ok: { 200: { description: 'queued again', schema: responses.requeued } }, errors: { 404: 'TASK_NOT_FOUND', 409: 'TASK_NOT_DEAD', 410: 'TASK_EXPIRED' },
    },
    {
      method: 'post', path: '/tasks/{id}/complete', tag: 'tasks', summary: 'Report a result (the assigned agent); ?next=1 returns its next task, &wait_ms waits for one', scopes: ['agent'],
      params: { id }, query: completeQuery, body: completeSchema, ok: { 200: { description: 'completed', schema: responses.taskReported } },
      errors: { 404: 'TASK_NOT_FOUND', 409: 'TASK_ALREADY_FINISHED, TASK_NOT_ASSIGNED or TASK_WRONG_AGENT' }, example: { agent_id: 'hermes-agent', result: { answer: 42 } },
    },
    {
      method: 'post', path: '/tasks/{id}/fail', tag: 'tasks', summary: 'Report a failure (retried unless retryable is false)', scopes: ['agent'],
      params: { id }, body: failSchema, ok: { 200: { description: 'recorded', schema: responses.taskReported } },
      errors: { 404: 'TASK_NOT_FOUND', 409: 'TASK_ALREADY_FINISHED, TASK_NOT_ASSIGNED or TASK_WRONG_AGENT' },
    },
    {
      method: 'get', path: '/agents/{id}/tasks/next', tag: 'tasks', summary: 'Long poll for the agent\'s next task', scopes: ['agent'], params: agentParams, query: nextTaskQuery,
      ok: { 200: { description: 'a task', schema: responses.nextTask }, 204: { description: 'none within wait_ms' } },
    },
    { method: 'get', path: '/load-balancer/strategy', tag: 'tasks', summary: 'The strategy every daemon uses', scopes: read, ok: { 200: { description: 'the strategy', schema: responses.strategy } } },
    { method: 'put', path: '/load-balancer/strategy', tag: 'tasks', summary: 'Change the strategy', scopes: ['admin'], body: strategyBody, ok: { 200: { description: 'changed', schema: responses.strategy } }, example: { strategy: 'round_robin' } },
    {
      method: 'post', path: '/messages', tag: 'messages', summary: 'Send a message with receipts', scopes: ['operate'], body: sendMessageBody(l.maxMessageTtlMs),
      ok: { 202: { description: 'stored; receipts so far', schema: responses.messageSent } }, errors: { 413: 'MESSAGE_TOO_LARGE', 429: 'RATE_LIMITED (this caller sends too fast; Retry-After) or OUTBOX_FULL (undelivered messages fill messages.outbox)' }, example: { to: 'all', body: 'hello cluster' },
    },
    { method: 'get', path: '/messages/inbox', tag: 'messages', summary: 'Messages this node received', scopes: read, query: inboxQuery, ok: { 200: { description: 'newest first', schema: responses.inbox } } },
    { method: 'get', path: '/messages/{id}', tag: 'messages', summary: 'A sent message and its receipts', scopes: read, params: { id }, ok: { 200: { description: 'the message', schema: responses.message } }, errors: { 404: 'MESSAGE_NOT_FOUND' } },
    {
      method: 'post', path: '/ops', tag: 'operations', summary: 'Run a seed 000 operation; answers its report (or 202 with ?wait=0)', scopes: ['operate'],
      query: opsQuery, body: opRequestSchema(l.maxOpsTimeoutMs / 1000),
      ok: { 200: { description: 'the seed 000 report', schema: responses.opReport }, 202: { description: 'accepted (wait=0)', schema: responses.opAccepted } },
      errors: { 429: 'OPS_BUSY', 501: 'OPERATION_NOT_AVAILABLE' }, example: { operation: 'sync', target_node: 'all', sync_type: 'git', force: true },
    },
    {
      method: 'get', path: '/ops', tag: 'operations', summary: 'The journal: the cluster\'s operations, newest first', scopes: read, query: journalQuery,
      ok: { 200: { description: 'a page of the journal', schema: responses.journal } },
    },
    { method: 'get', path: '/ops/{id}', tag: 'operations', summary: 'An operation\'s journal record', scopes: read, params: { id }, ok: { 200: { description: 'the record', schema: responses.opRecord } }, errors: { 404: 'OPERATION_NOT_FOUND' } },
    {
      method: 'get', path: '/ops/{id}/events', tag: 'operations', summary: 'Progress as server-sent events, then done with the report', scopes: read, params: { id },
      ok: { 200: { description: 'text/event-stream', text: 'text/event-stream' } }, errors: { 404: 'OPERATION_NOT_FOUND' },
    },
    { method: 'get', path: '/nodes', tag: 'nodes', summary: 'The membership view (seed 000 nodes_status)', scopes: read, ok: { 200: { description: 'every node', schema: responses.nodes } } },
    {
      method: 'delete', path: '/nodes/{name}/binding', tag: 'nodes', summary: 'Unpin a node name from its peer id (a rebuilt node)', scopes: ['admin'], params: { name },
      ok: { 200: { description: 'unpinned', schema: responses.nodeForgotten } },
    },
    { method: 'get', path: '/metrics', tag: 'daemon', summary: 'Prometheus metrics', scopes: read, ok: { 200: { description: 'text format', text: 'text/plain' } } },
    {
      method: 'get', path: '/health', tag: 'daemon', summary: 'This daemon\'s health (503 when Redis is down)', scopes: null,
      ok: { 200: { description: 'healthy or degraded', schema: responses.health }, 503: { description: 'unhealthy', schema: responses.health } },
    },
    { method: 'get', path: '/openapi.json', tag: 'daemon', summary: 'This document', scopes: null, ok: { 200: { description: 'OpenAPI 3.1', schema: z.looseObject({ openapi: z.string() }) } } },
  ]
}

/**
 * JSON Schema of a zod schema for the document. Recursive parts (z.json())
 * come with their own $defs; they move to components.schemas under a name
 * unique to this call, and the references follow.
 */
function schemaMaker(components: Record<string, unknown>) {
  let n = 0
  return (s: z.ZodType, io: 'input' | 'output'): Record<string, unknown> => {
    const out = z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>
    delete out.$schema
    const defs = out.$defs as Record<string, unknown> | undefined
    if (defs === undefined) return out
    delete out.$defs
    const tag = `s${n++}`
    const moved = JSON.parse(JSON.stringify({ out, defs }).replaceAll('"#/$defs/', `"#/components/schemas/${tag}_`)) as { out: Record<string, unknown>, defs: Record<string, unknown> }
    for (const [k, v] of Object.entries(moved.defs)) components[`${tag}_${k}`] = v
    return moved.out
  }
}

/** The browser guard's answers, on every route (src/coordinator/http/browser-guard.ts). */
const GUARD: Record<number, string> = {
  403: 'FOREIGN_ORIGIN: Origin or Sec-Fetch-Site is not this daemon\'s own (a page of another site)',
  421: 'HOST_NOT_ALLOWED: Host is not a loopback name, an IP address, the node name or in coordinator.allowedHosts',
}
const COMMON: Record<number, string> = {
  401: 'UNAUTHORIZED: no or an unknown bearer token',
  403: 'FORBIDDEN: the token lacks the scope; or FOREIGN_ORIGIN: a page of another site',
  503: 'REDIS_UNAVAILABLE or SHUTTING_DOWN: retry, or another daemon',
}
const WITH_BODY: Record<number, string> = {
  400: 'INVALID_JSON, JSON_TOO_DEEP (over 64 levels), FORBIDDEN_KEY (__proto__) or BODY_UNREADABLE',
  413: 'the body is larger than coordinator.bodyLimitBytes',
  415: 'UNSUPPORTED_MEDIA_TYPE (the body is not Content-Type: application/json) or UNSUPPORTED_ENCODING',
}

/** The OpenAPI 3.1 document of the whole API, built from the schemas the routes validate with. */
export function buildOpenApi(l: OpenApiLimits): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  const schemas: Record<string, unknown> = {}
  const schemaOf = schemaMaker(schemas)
  const error = { $ref: '#/components/schemas/Error' }
  for (const r of routes(l)) {
    const responsesDoc: Record<string, unknown> = {}
    for (const [status, a] of Object.entries(r.ok)) {
      const content = a.text !== undefined ? { [a.text]: { schema: { type: 'string' } } } : a.schema === undefined ? undefined : { 'application/json': { schema: schemaOf(a.schema, 'output') } }
      responsesDoc[status] = content === undefined ? { description: a.description } : { description: a.description, content }
    }
    const validated = r.body !== undefined || r.query !== undefined || r.params !== undefined
    const errs: Record<number, string> = {
      ...GUARD,
      ...(r.scopes === null ? {} : COMMON),
      ...(r.body === undefined ? {} : WITH_BODY),
      ...r.errors,
    }
    if (validated) errs[422] = 'VALIDATION_ERROR: the message names the field'
    for (const [status, why] of Object.entries(errs)) {
      if (responsesDoc[status] === undefined) responsesDoc[status] = { description: why, content: { 'application/json': { schema: error } } }
    }
    const parameters = [
      ...Object.entries(r.params ?? {}).map(([n, s]) => ({ name: n, in: 'path', required: true, schema: schemaOf(s, 'input') })),
      ...Object.entries(r.query?.shape ?? {}).map(([n, s]) => ({ name: n, in: 'query', required: false, schema: schemaOf(s as z.ZodType, 'input') })),
    ]
    const op: Record<string, unknown> = {
      tags: [r.tag],
      summary: r.summary,
      operationId: `${r.method}${r.path.replaceAll(/[{}]/g, '').split(/[/-]/).map((p) => (p === '' ? '' : p[0]!.toUpperCase() + p.slice(1))).join('').replaceAll('.', '')}`,
      ...(r.scopes === null ? { security: [] } : { 'security': [{ bearer: r.scopes }], 'x-scopes': r.scopes }),
      ...(parameters.length === 0 ? {} : { parameters }),
      ...(r.body === undefined ? {} : {
        requestBody: { required: true, content: { 'application/json': { schema: schemaOf(r.body, 'input'), ...(r.example === undefined ? {} : { example: r.example }) } } },
      }),
      responses: responsesDoc,
    }
    paths[r.path] = { ...paths[r.path], [r.method]: op }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'aitbc-node coordinator API',
      version: l.version,
      description: 'Every path is also served under /v1. Errors share one body: {status: "error", code, message, detail}. Scopes: read, agent, operate, admin (admin may do everything).',
    },
    servers: [{ url: '/' }, { url: '/v1' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from auth.tokens (AITBC_API_TOKEN). Once any token exists every request needs one, loopback included; only a daemon with no token at all on a loopback listener (or auth.anonymous: true) takes anonymous requests, and says so in a warning at start. Browser pages are refused whatever the token: a foreign Origin or Sec-Fetch-Site (403 FOREIGN_ORIGIN), a Host that does not name the daemon (421 HOST_NOT_ALLOWED), a body not typed application/json (415 UNSUPPORTED_MEDIA_TYPE)' } },
      schemas: { Error: schemaOf(errorBody, 'output'), ...schemas },
    },
    paths,
  }
}
