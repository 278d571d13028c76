import { pino } from 'pino'
import t from 'tap'
import { type OpRecord, type OpRunner, OpsEngine, type OpsJournal } from '../../../src/ops/index.js'

/** The journal interface kept in memory: the engine's queue and deadline logic is what is tested here. */
function memoryJournal(): OpsJournal & { saved: Map<string, OpRecord> } {
  const saved = new Map<string, OpRecord>()
  return {
    saved,
    save: async (rec) => void saved.set(rec.op_id, structuredClone(rec)),
    get: async (id) => saved.get(id) ?? null,
    recordAction: async () => {},
    interruptLeftovers: async () => [],
  }
}

const sleeper = (ms: number): OpRunner => async (req, ctx) => {
  await new Promise((r) => {
    const timer = setTimeout(r, ms)
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer)
      r(null)
    }, { once: true })
  })
  return {
    summary: 'done', operation: req.operation, target_node: req.target_node, nodes_status: {}, sync_result: 'success',
    sync_details: { blockchain_synced: false, mempool_synced: false, configuration_synced: false, git_synced: false },
    message_delivery: { sent: 0, delivered: 0, failed: 0 }, issues: [], recommendations: [], confidence: 1, execution_time: 0, validation_status: 'success',
  }
}

t.test('a queued operation answers at its deadline, counted from submission, as not started', async (t) => {
  const journal = memoryJournal()
  const engine = new OpsEngine({
    node: 'genesis', maxConcurrent: 1, maxQueued: 5, peerConcurrency: 5, defaultTimeoutMs: 60_000, journal,
    runners: { status: sleeper(1500) }, targetsOf: () => ['genesis', 'follower'], log: pino({ level: 'silent' }),
  })
  const first = engine.submit({ operation: 'status', target_node: 'all', force: false, verify: true, timeout: 5 })
  const submitted = Date.now()
  const queued = engine.submit({ operation: 'status', target_node: 'all', force: false, verify: true, timeout: 0.3 })
  const rec = await queued.done
  const took = Date.now() - submitted
  t.ok(took >= 280 && took < 800, `answered at its deadline (${took} ms), long before the running one ends`)
  t.equal(rec.report?.validation_status, 'failed')
  t.same(rec.report?.issues.map((i) => i.node), ['genesis', 'follower'], 'every target is reported as not started')
  t.match(rec.report?.issues[0]?.error, /not started/)
  t.equal(journal.saved.get(queued.id)?.state, 'done', 'journalled as done')
  t.equal(engine.queuedCount, 0)
  t.equal((await first.done).report?.validation_status, 'success', 'the running one is unaffected')
})

t.test('the record is in the journal as running before the runner starts', async (t) => {
  const journal = memoryJournal()
  let seen: string | undefined
  const engine = new OpsEngine({
    node: 'genesis', maxConcurrent: 1, maxQueued: 5, peerConcurrency: 5, defaultTimeoutMs: 60_000, journal, log: pino({ level: 'silent' }),
    runners: { status: async (req, ctx) => {
      seen = journal.saved.get(ctx.opId)?.state
      return sleeper(0)(req, ctx)
    } },
  })
  await engine.submit({ operation: 'status', target_node: 'all', force: false, verify: true }).done
  t.equal(seen, 'running', 'serving nodes that check the journal find the operation running')
})
