import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import t from 'tap'
import { FAST_MESH, startCluster, stopCluster, waitForState } from '../fixtures/cluster.js'
import { api } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// The dashboard agrees with the API and with itself (issue 28): one read per panel, a task page
// that follows its task to the end, a throughput chart whose peak is what happened, a force
// prompt that says what force does, and an operation's per-node table. Debian's Chromium against
// a real 2-node cluster; screenshots go to /tmp.
const CHROMIUM = '/usr/bin/chromium'
t.ok(existsSync(CHROMIUM), 'Debian\'s chromium is installed (./dev test and .ci/run install it)')

const ADMIN = 'truth-test-admin-token-0123456789abcdef'
const redis = await startRedis()
t.teardown(() => redis.stop())
const names = ['genesis', 'follower']
const cluster = await startCluster({
  names,
  redisUrl: redis.url,
  args: [...FAST_MESH, '--set', 'redis.prefix="truth:"', '--set', 'auth.anonymous=false',
    '--set', `auth.tokens=${JSON.stringify([{ name: 'admin', token: ADMIN, scopes: ['operate', 'admin', 'agent'] }])}`],
})
t.teardown(() => stopCluster(cluster))
for (const n of names) await waitForState(cluster[0]!.daemon, n, 'online', 15_000, ADMIN)
const genesis = cluster[0]!.daemon
const call = (method: string, path: string, body?: unknown) => api(genesis.url, method, path, body, { authorization: `Bearer ${ADMIN}` })

const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
t.teardown(() => browser.close())

async function signedIn(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  t.teardown(() => page.close())
  await page.goto(`${genesis.url}/ui`)
  await page.getByLabel('API token').fill(ADMIN)
  await page.getByRole('button', { name: 'Open the dashboard' }).click()
  await page.locator('tr[data-node="genesis"]').waitFor()
  await page.locator('#tasks-summary[data-completed]').waitFor()
  return page
}

/** A pull agent takes the next task it may and reports it (completed, or failed for good). */
async function work(agent: string, outcome: 'complete' | 'fail'): Promise<string> {
  const next = await call('GET', `/agents/${agent}/tasks/next?wait_ms=5000`)
  const id = (next.body.task as { task_id: string } | undefined)?.task_id
  if (id === undefined) throw new Error(`${agent} got no task: ${next.status} ${JSON.stringify(next.body).slice(0, 200)}`)
  const body = outcome === 'complete' ? { agent_id: agent, result: 'ok' } : { agent_id: agent, error: 'boom from the test', retryable: true }
  const res = await call('POST', `/tasks/${id}/${outcome}`, body)
  if (res.status !== 200) throw new Error(`${outcome} ${id}: ${res.status}`)
  return id
}

t.test('the Tasks summary counts the dead letters its list shows, before and after each requeue', async (t) => {
  t.equal((await call('POST', '/agents/register', { agent_id: 'dl-agent', agent_type: 'dltest' })).status, 200)
  for (let i = 0; i < 3; i++) {
    t.equal((await call('POST', '/tasks/submit', { task_data: { doomed: i }, max_retries: 0, requirements: { agent_type: 'dltest' } })).status, 201)
    await work('dl-agent', 'fail')
  }
  const page = await signedIn()
  // Summary and list read in one go inside the page, so that a check never sees half a redraw.
  const view = async () => {
    const [summary, listed] = await page.evaluate(`[document.getElementById('tasks-summary').textContent,
      document.querySelectorAll('#dead li').length]`) as [string, number]
    const said = /(\d+) dead letters? waiting/.exec(summary)
    return { said: said === null ? NaN : Number(said[1]), listed, summary }
  }
  await page.locator('#dead li').nth(2).waitFor({ timeout: 15_000 })
  t.match(await view(), { said: 3, listed: 3 }, 'three dead letters, said and listed')
  const disagreements: string[] = []
  let watching = true
  const watcher = (async () => {
    while (watching) {
      const v = await view()
      if (v.said !== v.listed) disagreements.push(`${v.summary} with ${v.listed} listed`)
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  for (let left = 3; left > 0; left--) {
    const id = await page.locator('#dead li').first().getAttribute('data-task')
    await page.getByRole('button', { name: `Requeue ${id}` }).click()
    await page.locator(`#dead li[data-task="${id}"]`).waitFor({ state: 'detached', timeout: 15_000 })
  }
  // A few refreshes more: the periodic read must not bring back the old count.
  await page.waitForTimeout(3500)
  watching = false
  await watcher
  t.same(disagreements, [], 'the summary and the list never disagreed while the letters were requeued')
  t.match(await view(), { said: 0, listed: 0 }, 'after the requeues: 0 dead letters, and none listed')
  t.ok(await page.locator('#dead-empty').isVisible(), '"No dead letters." is shown')
  const api = (await call('GET', '/tasks/queues/stats?dead=20')).body as { dead_letters: { count: number, tasks: unknown[] } }
  t.match(api.dead_letters, { count: 0, tasks: [] }, 'the API says the same')
  await page.locator('#tasks').screenshot({ path: '/tmp/truth-tasks-after-requeue.png' })
})

t.test('a task submitted from the page shows completed when it completes, without a reload', async (t) => {
  t.equal((await call('POST', '/agents/register', { agent_id: 'worker', agent_type: 'uitest' })).status, 200)
  const page = await signedIn()
  const completedBefore = Number(await page.locator('#tasks-summary').getAttribute('data-completed'))
  await page.getByRole('button', { name: 'Submit a test task' }).click()
  await page.locator('#submit-result[data-task]').waitFor()
  const id = await page.locator('#submit-result').getAttribute('data-task')
  await page.locator('#task-view[data-state="queued"]').waitFor()
  t.equal(await work('worker', 'complete'), id, 'the agent took the task the page submitted')
  const completedAt = Date.now()
  await page.locator('#task-view[data-state="completed"]').waitFor({ timeout: 10_000 })
  t.comment(`completed on the page ${Date.now() - completedAt} ms after the agent reported it`)
  t.match(await page.locator('#task-history li').allTextContents(), [/^Submitted/, /^Assigned to worker/, /^Completed /], 'its history, to the end')
  t.equal(await page.locator('#task-view').getAttribute('data-following'), 'false', 'and the page stopped reading it')
  await waitFor('the summary counting it', async () =>
    Number(await page.locator('#tasks-summary').getAttribute('data-completed')) === completedBefore + 1, { timeoutMs: 10_000, intervalMs: 100 })
  t.pass('the summary counts it as completed too')
  await page.locator('#tasks').screenshot({ path: '/tmp/truth-task-completed.png' })
})

t.test('the throughput chart plots what happened: 5 completions peak at 5 per minute, on labelled axes', async (t) => {
  t.equal((await call('POST', '/agents/register', { agent_id: 'counter', agent_type: 'counttest' })).status, 200)
  const page = await signedIn()
  // Two readings before the work: the chart's window starts before the first completion.
  await page.locator('#rate-chart polyline[data-series="completed"]').waitFor({ state: 'attached', timeout: 15_000 })
  const before = Number(await page.locator('#tasks-summary').getAttribute('data-completed'))
  for (let i = 0; i < 5; i++) {
    await call('POST', '/tasks/submit', { task_data: { n: i }, requirements: { agent_type: 'counttest' } })
    await work('counter', 'complete')
  }
  await waitFor('the 5 completions on the page', async () =>
    Number(await page.locator('#tasks-summary').getAttribute('data-completed')) === before + 5, { timeoutMs: 15_000, intervalMs: 100 })
  const peak = (series: string) => page.locator(`#rate-chart polyline[data-series="${series}"]`).getAttribute('data-peak')
  await waitFor('the completions on the chart', async () => Number(await peak('completed')) >= 5, { timeoutMs: 15_000, intervalMs: 100 })
  // Another reading or two: the window still holds the same five, no more.
  await page.waitForTimeout(3500)
  t.equal(await peak('completed'), '5', 'the completed line peaks at 5')
  t.equal(await peak('failed'), '0', 'the failed line stays at 0')
  t.equal(await page.locator('#rate-chart [data-axis="y-max"]').textContent(), '5', 'the y axis tops at 5')
  t.equal(await page.locator('#rate-chart [data-axis="y-label"]').textContent(), 'tasks per minute', 'the y axis names its unit')
  t.match(await page.locator('#rate-chart [data-axis="x-label"]').textContent(), /^time/, 'the x axis says it is time')
  t.match(await page.locator('#tasks-summary').textContent(), /5 completed in the last minute/, 'the summary says the same')
  t.match(await page.locator('#depth-chart [data-axis="y-label"]').textContent(), 'tasks queued', 'the depth chart names its unit too')
  await page.locator('.charts').screenshot({ path: '/tmp/truth-throughput.png' })
})

t.test('the force prompt says what force does for each operation', async (t) => {
  const page = await signedIn()
  const prompt = async (operation: string, syncType?: string): Promise<string> => {
    await page.getByLabel('Operation', { exact: true }).selectOption(operation)
    if (syncType !== undefined) await page.getByLabel('Sync', { exact: true }).selectOption(syncType)
    await page.getByLabel('force').check()
    const asked = new Promise<string>((resolve) => page.once('dialog', (d) => {
      resolve(d.message())
      void d.dismiss()
    }))
    await page.getByRole('button', { name: 'Start', exact: true }).click()
    return asked
  }
  const cases: [string, string | undefined, RegExp[], RegExp[]][] = [
    ['status', undefined, [/starts aitbc-node over SSH/, /does not answer/], [/overwrites/]],
    ['health', undefined, [/starts aitbc-node over SSH/], [/overwrites/]],
    ['sync', 'git', [/changes nothing/, /fast-forwards only/, /never reset or overwritten/], [/overwrites local changes/, /restarts/]],
    ['sync', 'blockchain', [/restarts the chain service on each node behind/], [/overwrites/]],
    ['sync', 'mempool', [/mempool: force changes nothing/], [/restarts/, /overwrites/]],
    ['sync', 'configuration', [/overwrites each configured file that differs/, /backup/], [/restarts/]],
    ['sync', 'all', [/git: force changes nothing/, /blockchain: force restarts/, /mempool: force changes nothing/, /configuration: force overwrites/], []],
    ['message', undefined, [/changes nothing/], [/overwrites/, /restarts/]],
    ['coordinate', undefined, [/requiresForce/, /refused/], [/overwrites/]],
  ]
  for (const [operation, syncType, says, never] of cases) {
    const text = await prompt(operation, syncType)
    const what = `${operation}${syncType === undefined ? '' : ` ${syncType}`}`
    t.match(text, /with force\?/, `${what}: asks first`)
    for (const r of says) t.match(text, r, `${what}: says ${r.source}`)
    for (const r of never) t.notMatch(text, r, `${what}: does not claim ${r.source}`)
  }
  t.equal(await page.locator('#op-run').isVisible(), false, 'every prompt dismissed: nothing started')
  const asked = new Promise<string>((resolve) => page.once('dialog', (d) => {
    resolve(d.message())
    void d.dismiss()
  }))
  await page.getByRole('button', { name: 'Sync git repository across all nodes (force)' }).click()
  t.match(await asked, /fast-forwards only/, 'the quick git sync button says the same')
})

t.test('an operation\'s page shows the report\'s per-node table and each node\'s health checks', async (t) => {
  const page = await signedIn()
  await page.getByLabel('Operation', { exact: true }).selectOption('health')
  await page.getByLabel('Target', { exact: true }).selectOption('all')
  await page.getByRole('button', { name: 'Start', exact: true }).click()
  await page.locator('#op-report').waitFor({ state: 'visible', timeout: 30_000 })
  const id = await page.locator('#op-run').getAttribute('data-op')
  const rec = (await call('GET', `/ops/${id}`)).body.operation as { report: { nodes_status: Record<string, { status: string }> } }
  const rows = await page.locator('#op-nodes tbody tr').all()
  const shown = Object.fromEntries(await Promise.all(rows.map(async (r) => [await r.getAttribute('data-node'), await r.getAttribute('data-state')])))
  t.same(shown, Object.fromEntries(Object.entries(rec.report.nodes_status).map(([n, l]) => [n, l.status])), 'one row per node of nodes_status, with its state')
  t.same(Object.keys(shown).sort(), ['follower', 'genesis'], 'both nodes')
  for (const n of names) {
    const redisCheck = page.locator(`#op-details .node-details[data-node="${n}"] li[data-check="redis"]`)
    t.match(await redisCheck.textContent(), /^redis: ok/, `${n}: its Redis check is shown`)
    t.ok(await page.locator(`#op-details .node-details[data-node="${n}"] li[data-check="clock_skew_ms"]`).count() === 1, `${n}: its clock skew is shown`)
  }
  await page.locator('#op-run').screenshot({ path: '/tmp/truth-operation-health.png' })
})
