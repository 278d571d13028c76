import { createParser, type EventSourceMessage } from 'eventsource-parser'
import t from 'tap'
import { api as api } from '../fixtures/api.js'
import { meshTestBed } from '../fixtures/mesh.js'
import { startOpsNode, type TestOpsNode } from '../fixtures/ops-node.js'
import { freePort, waitFor } from '../fixtures/poll.js'

// An operation started on genesis, followed through the follower's /ops/:id/events: progress
// is published through Redis, so any daemon serves it, with event ids, resume and a clean end.
// Three in-process nodes, each serving the coordinator API's ops routes on its own port.
const { client, dir } = await meshTestBed(t, 'opsev')
const names = ['genesis', 'follower', 'third']
const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const)))
const cluster: TestOpsNode[] = []
for (const name of names) {
  const node = await startOpsNode({
    name, dir, port: ports[name]!, redis: client, prefix: 'opsev:', api: true,
    peers: names.filter((p) => p !== name).map((p) => ({ name: p, address: `/ip4/127.0.0.1/tcp/${ports[p]}` })),
    maxConcurrent: 5, maxQueued: 20, defaultTimeoutMs: 60_000,
    actions: {
      pause: { command: ['/bin/sh', '-c', 'sleep 0.4; echo paused'] },
      // Long enough that the first event is read while the operation runs: the three nodes share this process.
      hold: { command: ['/bin/sh', '-c', 'sleep 3; echo held'] },
    },
  })
  cluster.push(node)
  t.teardown(() => node.stop())
}
const [genesis, follower] = cluster as [TestOpsNode, TestOpsNode, TestOpsNode]
for (const viewer of cluster) {
  for (const n of names) if (n !== viewer.mesh.view.snapshot()[0]!.name) await waitFor(`${n} online`, () => viewer.mesh.view.stateOf(n) === 'online')
}

interface Followed {
  status: number
  contentType: string | null
  retry: number | null
  events: EventSourceMessage[]
  /** The state of the operation on the daemon running it when the first progress event arrived. */
  stateAtFirst: string | null
}

/** Reads an operation's events like an EventSource would, until the server ends the stream or `stopAfter` events. */
async function follow(via: TestOpsNode, id: string, opts: { lastEventId?: string, stopAfter?: number } = {}): Promise<Followed> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), 30_000)
  const res = await fetch(`${via.url}/ops/${id}/events`, {
    headers: opts.lastEventId === undefined ? {} : { 'last-event-id': opts.lastEventId }, signal: controller.signal,
  })
  if (res.status !== 200) t.comment(`GET /ops/${id}/events on ${via.url}: ${res.status} ${await res.clone().text()}`)
  const out: Followed = { status: res.status, contentType: res.headers.get('content-type'), retry: null, events: [], stateAtFirst: null }
  let firstSeen: Promise<void> | null = null
  const parser = createParser({
    onEvent: (e) => {
      // A client that hangs up after stopAfter events has seen no more than those.
      if (opts.stopAfter !== undefined && out.events.length >= opts.stopAfter) return
      out.events.push(e)
      if (e.event === 'progress' && firstSeen === null) {
        firstSeen = api(genesis.url, 'GET', `/ops/${id}`).then((r) => {
          out.stateAtFirst = (r.body.operation as { state: string }).state
        })
      }
    },
    onRetry: (ms) => {
      out.retry = ms
    },
  })
  try {
    if (res.body !== null) {
      const decoder = new TextDecoder()
      for await (const chunk of res.body) {
        parser.feed(decoder.decode(chunk, { stream: true }))
        if (opts.stopAfter !== undefined && out.events.length >= opts.stopAfter) {
          controller.abort() // the client drops the connection
          break
        }
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err
  } finally {
    clearTimeout(timer)
  }
  await firstSeen
  return out
}

const startOp = async (action = 'pause'): Promise<string> => {
  const res = await api(genesis.url, 'POST', '/ops?wait=0', { operation: 'coordinate', action, target_node: 'all', timeout: 30 })
  t.equal(res.status, 202)
  return String(res.body.op_id)
}

t.test('an operation started on genesis streams live through the follower, with ids, a retry hint and a clean end', async (t) => {
  const id = await startOp('hold')
  const live = await follow(follower, id)
  t.equal(live.status, 200, `answered ${live.status}`)
  t.match(live.contentType, /^text\/event-stream/)
  t.equal(live.retry, 2000, 'a retry hint')
  t.equal(live.stateAtFirst, 'running', 'the first progress event arrived while the operation was still running on genesis')
  const progress = live.events.filter((e) => e.event === 'progress')
  t.ok(progress.length >= 3, `${progress.length} progress events`)
  t.ok(live.events.every((e) => typeof e.id === 'string' && /^\d+-\d+$/.test(e.id)), 'every event has a stream id')
  t.equal(new Set(live.events.map((e) => e.id)).size, live.events.length, 'ids are unique')
  const nodes = new Set(progress.map((e) => (JSON.parse(e.data) as { node: string | null }).node))
  t.ok(['genesis', 'follower', 'third'].every((n) => nodes.has(n)), 'progress from every node')
  const last = live.events.at(-1)!
  t.equal(last.event, 'done', 'the stream ends with done')
  t.match(JSON.parse(last.data), { operation: 'coordinate', validation_status: 'success' }, 'done carries the report')

  const replay = await follow(genesis, id)
  t.same(replay.events.map((e) => e.id), live.events.map((e) => e.id), 'the running daemon serves the same events with the same ids')
  const again = await fetch(`${follower.url}/ops/${id}/events`, { headers: { 'last-event-id': last.id! } })
  t.equal(again.status, 204, 'resuming after done: 204, which ends an EventSource\'s reconnecting')
})

t.test('a dropped connection resumes from Last-Event-ID with nothing missed and nothing twice', async (t) => {
  const id = await startOp()
  const first = await follow(follower, id, { stopAfter: 2 })
  t.equal(first.events.length, 2, 'two events, then the client hung up')
  const rest = await follow(follower, id, { lastEventId: first.events.at(-1)!.id! })
  const whole = await follow(genesis, id)
  t.same([...first.events, ...rest.events].map((e) => e.id), whole.events.map((e) => e.id), 'before + after the drop = the whole stream')
  t.equal(rest.events.at(-1)?.event, 'done')
})

t.test('bad or unknown ids get a clear 4xx naming what is wrong', async (t) => {
  const id = await startOp()
  // Forged and oversized ids: each refused with 422 naming the header, none reaches Redis as a stream id.
  for (const forged of ['not-an-id', 'x'.repeat(8000), `${'9'.repeat(17)}-0`, 'journal-99999999', '1-0 + ', '(1-0', '-', '+']) {
    const bad = await fetch(`${follower.url}/ops/${id}/events`, { headers: { 'last-event-id': forged } })
    t.equal(bad.status, 422, `Last-Event-ID ${forged.slice(0, 24)}: 422`)
    t.match(await bad.json(), { status: 'error', message: /Last-Event-ID/ })
  }
  const bogusOp = await fetch(`${follower.url}/ops/not-a-uuid/events`)
  t.equal(bogusOp.status, 422, 'a forged operation id: 422')
  const unknown = await fetch(`${follower.url}/ops/00000000-0000-4000-8000-000000000000/events`)
  t.equal(unknown.status, 404)
  t.match(await unknown.json(), { code: 'OPERATION_NOT_FOUND' })
  await follow(follower, id) // let it finish before the cluster stops
})

t.test('the journal lists the cluster\'s operations newest first on any daemon, in pages', async (t) => {
  const ids = [await startOp(), await startOp(), await startOp()]
  for (const id of ids) await follow(follower, id)
  const page = await api(follower.url, 'GET', '/ops?limit=2')
  t.equal(page.status, 200)
  type Line = { op_id: string, node: string, state: string, operation: string, validation_status: string, created_ms: number }
  const ops = page.body.operations as Line[]
  t.same(ops.map((o) => o.op_id), [ids[2], ids[1]], 'the newest two, newest first, listed by the follower though genesis ran them')
  t.match(ops[0], { node: 'genesis', state: 'done', operation: 'coordinate', validation_status: 'success' })
  t.equal(page.body.next_before, ops[1]!.created_ms, 'a full page says where the next begins')
  const next = await api(follower.url, 'GET', `/ops?limit=2&before=${String(page.body.next_before)}`)
  t.equal((next.body.operations as { op_id: string }[])[0]?.op_id, ids[0], 'the next page goes on from there')
  for (const bad of ['limit=0', 'limit=201', 'limit=x', 'before=-1', 'sort=asc']) {
    const res = await api(follower.url, 'GET', `/ops?${bad}`)
    t.equal(res.status, 422, `${bad}: 422`)
    t.match(res.body.message, /query/, `${bad}: the message names the query`)
  }
})
