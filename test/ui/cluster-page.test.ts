import { existsSync, mkdirSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import t from 'tap'
import { FAST_MESH, startCluster, stopCluster, waitForState } from '../fixtures/cluster.js'
import { api } from '../fixtures/daemon.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// The dashboard at /ui in Debian's Chromium (never a downloaded browser), against a real
// 3-node cluster whose API needs a token. Screenshots go to .tap/screenshots.
const CHROMIUM = '/usr/bin/chromium'
t.ok(existsSync(CHROMIUM), 'Debian\'s chromium is installed (./dev test and .ci/run install it)')
const SHOTS = join(process.cwd(), '.tap', 'screenshots')
mkdirSync(SHOTS, { recursive: true })

const TOKEN = 'ui-test-reader-token-0123456789abcdef'
const OPERATOR = 'ui-test-operator-token-0123456789abcd'
const ADMIN = 'ui-test-admin-token-0123456789abcdefgh'
const redis = await startRedis()
t.teardown(() => redis.stop())
const names = ['genesis', 'follower', 'third']
const cluster = await startCluster({
  names,
  redisUrl: redis.url,
  args: [...FAST_MESH, '--set', 'redis.prefix="ui:"', '--set', 'auth.anonymous=false',
    '--set', `ops.actions=${JSON.stringify({ pause: { command: ['/bin/sh', '-c', 'sleep 8; echo paused'] } })}`,
    '--set', `auth.tokens=${JSON.stringify([{ name: 'viewer', token: TOKEN, scopes: ['read'] }, { name: 'operator', token: OPERATOR, scopes: ['operate'] },
      { name: 'admin', token: ADMIN, scopes: ['operate', 'admin', 'agent'] }])}`],
})
t.teardown(() => stopCluster(cluster))
for (const viewer of cluster) for (const n of names) await waitForState(viewer.daemon, n, 'online', 15_000, TOKEN)
const genesis = cluster[0]!.daemon

const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
t.teardown(() => browser.close())

async function openPage(width = 1280, height = 800): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height } })
  t.teardown(() => page.close())
  await page.goto(`${genesis.url}/ui`)
  return page
}
/** GET with the path exactly as given. */
function rawStatus(base: string, path: string): Promise<number> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET' }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
}
const stateOf = (page: Page, node: string) => page.locator(`tr[data-node="${node}"]`).getAttribute('data-state')

t.test('a wrong token is refused with a message that says what to do', async (t) => {
  const page = await openPage()
  await page.getByLabel('API token').waitFor()
  await page.getByLabel('API token').fill('not-a-token')
  await page.getByRole('button', { name: 'Open the dashboard' }).click()
  const error = page.locator('#login-error')
  await error.waitFor({ state: 'visible' })
  t.match(await error.textContent(), /token.*read scope/i, 'the form says the token was refused and which scope is needed')
  t.notOk(await page.locator('#cluster').isVisible(), 'no cluster data shown')
  await page.screenshot({ path: join(SHOTS, 'ui-wrong-token.png'), fullPage: true })
})

async function signedIn(tok: string): Promise<Page> {
  const page = await openPage()
  await page.getByLabel('API token').fill(tok)
  await page.getByRole('button', { name: 'Open the dashboard' }).click()
  await page.locator('tr[data-node="genesis"]').waitFor()
  return page
}

t.test('operations from the page: status streams per node and shows its report; force asks first; a read token may not start one', async (t) => {
  const reader = await signedIn(TOKEN)
  await reader.getByRole('button', { name: 'Check status of all nodes' }).click()
  await reader.locator('#op-error').waitFor({ state: 'visible' })
  t.match(await reader.locator('#op-error').textContent(), /operate scope/, 'a read token: told which scope it needs')

  const page = await signedIn(OPERATOR)
  await page.getByRole('button', { name: 'Check status of all nodes' }).click()
  await page.locator('#op-report').waitFor({ state: 'visible', timeout: 30_000 })
  for (const n of names) t.ok(await page.locator(`#op-log li[data-node="${n}"]`).count() > 0, `progress lines from ${n}`)
  t.equal(await page.locator('#op-verdict').textContent(), 'success')
  t.match(await page.locator('#op-summary').textContent(), /3 of 3 nodes online/)
  t.same(await page.locator('#op-issues li').allTextContents(), ['none'], 'issues first: none')
  await page.screenshot({ path: join(SHOTS, 'ui-operation-status.png'), fullPage: true })

  const asked: string[] = []
  page.once('dialog', (d) => {
    asked.push(d.message())
    void d.dismiss()
  })
  const before = await page.locator('#op-title').textContent()
  await page.getByRole('button', { name: 'Sync git repository across all nodes (force)' }).click()
  await page.waitForTimeout(300)
  t.match(asked, [/with force\?/], 'force asks for confirmation')
  t.equal(await page.locator('#op-title').textContent(), before, 'dismissed: nothing started')

  page.once('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Sync git repository across all nodes (force)' }).click()
  await page.locator('#op-title', { hasText: 'Sync git repository' }).waitFor()
  await page.locator('#op-report').waitFor({ state: 'visible', timeout: 60_000 })
  t.match(await page.locator('#op-verdict').textContent(), /^(success|partial|failed)$/, 'it finished with a verdict')
  t.ok(await page.locator('#op-issues li').count() > 0, 'its issues are listed (or none)')
  await page.screenshot({ path: join(SHOTS, 'ui-operation-sync-git.png'), fullPage: true })
})

t.test('tasks from the page: a test task submitted there completes and the counts move; a dead letter is requeued', async (t) => {
  const as = { authorization: `Bearer ${ADMIN}` }
  const call = (method: string, path: string, body?: unknown) => api(genesis.url, method, path, body, as)
  t.equal((await call('POST', '/agents/register', { agent_id: 'ui-agent', agent_type: 'uitest' })).status, 200)
  const page = await signedIn(ADMIN)
  await page.locator('#tasks-summary[data-completed]').waitFor()
  const completedBefore = Number(await page.locator('#tasks-summary').getAttribute('data-completed'))

  await page.getByLabel('Submit a test task, priority').selectOption('high')
  await page.getByRole('button', { name: 'Submit a test task' }).click()
  await page.locator('#submit-result[data-task]').waitFor()
  const id = await page.locator('#submit-result').getAttribute('data-task')
  await waitFor('queued under high on the page', async () =>
    /^[1-9]/.test(await page.locator('#queues tr[data-priority="high"] td').nth(1).textContent() ?? ''), { timeoutMs: 10_000, intervalMs: 100 })
  t.pass('queued under high')
  const next = await call('GET', '/agents/ui-agent/tasks/next?wait_ms=5000')
  t.equal((next.body.task as { task_id: string } | undefined)?.task_id, id, `the agent gets the task submitted from the page (${next.status} ${JSON.stringify(next.body).slice(0, 200)})`)
  t.equal((await call('POST', `/tasks/${id}/complete`, { agent_id: 'ui-agent', result: 'ok' })).status, 200)
  // Polled from here: the page's CSP (rightly) refuses the string evaluation waitForFunction would need.
  await waitFor('the completed count on the page', async () =>
    Number(await page.locator('#tasks-summary').getAttribute('data-completed')) > completedBefore, { timeoutMs: 15_000, intervalMs: 100 })
  t.pass('the completed count moved on the page')
  const series = (chart: string, name: string) => page.locator(`#${chart} polyline[data-series="${name}"]`).getAttribute('data-last')
  await waitFor('throughput on the chart', async () => Number(await series('rate-chart', 'completed')) > 0, { timeoutMs: 15_000, intervalMs: 100 })
  t.pass('the throughput chart shows a completion per minute')
  t.equal(await page.locator('#depth-chart polyline').count(), 5, 'the depth chart has a line per priority')

  // One task's history, from its id.
  await page.getByLabel('Task id').fill(id!)
  await page.getByRole('button', { name: 'Show its history' }).click()
  await page.locator('#task-view[data-state="completed"]').waitFor()
  const history = await page.locator('#task-history li').allTextContents()
  t.match(history, [/^Submitted .* through genesis/, /^Assigned to ui-agent .*attempt 1 of/, /^Completed /], 'submitted, assigned, completed')
  t.match(await page.locator('#task-result').textContent(), /"ok"/, 'and its result')
  await page.getByLabel('Task id').fill('not-a-task-id')
  await page.getByRole('button', { name: 'Show its history' }).click()
  await page.locator('#task-error').waitFor({ state: 'visible' })
  t.match(await page.locator('#task-error').textContent(), /task_id/, 'a bad id: the error names the field')

  const sub = await call('POST', '/tasks/submit', { task_data: { doomed: true }, max_retries: 0, requirements: { agent_type: 'uitest' } })
  const doomed = String(sub.body.task_id)
  const taken = await call('GET', '/agents/ui-agent/tasks/next?wait_ms=5000')
  t.equal((taken.body.task as { task_id: string }).task_id, doomed)
  await call('POST', `/tasks/${doomed}/fail`, { agent_id: 'ui-agent', error: 'boom from the test', retryable: true })
  const row = page.locator(`#dead li[data-task="${doomed}"]`)
  await row.waitFor({ timeout: 15_000 })
  t.match(await row.textContent(), /boom from the test/, 'the dead letter shows its error')
  await page.screenshot({ path: join(SHOTS, 'ui-tasks-dead-letter.png'), fullPage: true })
  await page.getByRole('button', { name: `Requeue ${doomed}` }).click()
  await row.waitFor({ state: 'detached', timeout: 15_000 })
  t.equal(((await call('GET', `/tasks/${doomed}`)).body.task as { state: string }).state, 'queued', 'requeued: queued again')
})

t.test('agents from the page: the registry with filters, a status change and a removal (confirmed first)', async (t) => {
  const as = { authorization: `Bearer ${ADMIN}` }
  const call = (method: string, path: string, body?: unknown) => api(genesis.url, method, path, body, as)
  await call('POST', '/agents/register', { agent_id: 'gpu-1', agent_type: 'gpu', capabilities: ['cuda'] })
  await call('POST', '/agents/register', { agent_id: 'cpu-1', agent_type: 'cpu', capabilities: ['avx'] })
  const page = await signedIn(ADMIN)
  await page.locator('#agent-list tr[data-agent="gpu-1"]').waitFor()
  await page.locator('#agent-list tr[data-agent="cpu-1"]').waitFor()

  await page.getByLabel('Type').fill('gpu')
  await page.getByRole('button', { name: 'Filter' }).click()
  await page.locator('#agent-list tr[data-agent="cpu-1"]').waitFor({ state: 'detached' })
  const shown = await Promise.all((await page.locator('#agent-list tbody tr').all()).map((r) => r.getAttribute('data-agent')))
  t.same(shown, ['gpu-1'], 'filtered by type: only gpu-1')

  await page.getByLabel('Status of gpu-1', { exact: true }).selectOption('maintenance')
  await page.getByRole('button', { name: 'Set the status of gpu-1' }).click()
  await page.locator('#agent-list tr[data-agent="gpu-1"][data-status="maintenance"]').waitFor()
  t.equal(((await call('GET', '/agents/gpu-1')).body.agent as { status: string }).status, 'maintenance', 'the registry has it')
  await page.screenshot({ path: join(SHOTS, 'ui-agents.png'), fullPage: true })

  await page.getByLabel('Type').fill('')
  await page.getByRole('button', { name: 'Filter' }).click()
  await page.locator('#agent-list tr[data-agent="cpu-1"]').waitFor()
  page.once('dialog', (d) => void d.accept())
  await page.getByRole('button', { name: 'Remove cpu-1' }).click()
  await page.locator('#agent-list tr[data-agent="cpu-1"]').waitFor({ state: 'detached' })
  t.equal((await call('GET', '/agents/cpu-1')).status, 404, 'removed from the registry')
})

t.test('an operation started on genesis is followed through the follower\'s page, from its journal', async (t) => {
  const res = await api(genesis.url, 'POST', '/ops?wait=0', { operation: 'coordinate', action: 'pause', target_node: 'all', timeout: 30 },
    { authorization: `Bearer ${OPERATOR}` })
  t.equal(res.status, 202)
  const id = String(res.body.op_id)
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  t.teardown(() => page.close())
  await page.goto(`${cluster[1]!.daemon.url}/ui`)
  await page.getByLabel('API token').fill(TOKEN)
  await page.getByRole('button', { name: 'Open the dashboard' }).click()
  const row = page.locator(`#journal tr[data-op="${id}"]`)
  await row.waitFor({ timeout: 10_000 })
  t.match(await row.textContent(), /coordinate pause on all.*genesis/, 'the journal row: what, and that genesis runs it')
  await page.getByRole('button', { name: `Open operation ${id}` }).click()
  await page.locator('#op-log li').first().waitFor({ timeout: 10_000 })
  const runningAtFirst = ((await api(genesis.url, 'GET', `/ops/${id}`, undefined, { authorization: `Bearer ${TOKEN}` })).body.operation as { state: string }).state
  t.equal(runningAtFirst, 'running', 'progress reached the follower\'s page while genesis still ran it')
  await page.locator('#op-report').waitFor({ state: 'visible', timeout: 30_000 })
  t.equal(await page.locator('#op-verdict').textContent(), 'success')
  for (const n of names) t.ok(await page.locator(`#op-log li[data-node="${n}"]`).count() > 0, `progress from ${n}`)
  await page.locator(`#journal tr[data-op="${id}"][data-state="done"]`).waitFor({ timeout: 10_000 })
  t.pass('the journal row turns done')
  await page.screenshot({ path: join(SHOTS, 'ui-journal-follower.png'), fullPage: true })
})

t.test('any operation from the form: health of one node, with its report', async (t) => {
  const page = await signedIn(OPERATOR)
  await page.getByLabel('Operation', { exact: true }).selectOption('health')
  await page.getByLabel('Target', { exact: true }).selectOption('follower')
  await page.getByRole('button', { name: 'Start', exact: true }).click()
  await page.locator('#op-title', { hasText: 'health on follower' }).waitFor()
  await page.locator('#op-report').waitFor({ state: 'visible', timeout: 30_000 })
  t.match(await page.locator('#op-verdict').textContent(), /^(success|partial)$/, 'health finished with a verdict')
  t.ok(await page.locator('#op-log li[data-node="follower"]').count() > 0, 'progress from follower')
  t.equal(await page.locator('#op-log li[data-node="third"]').count(), 0, 'and from no other node')

  await page.getByLabel('Operation', { exact: true }).selectOption('sync')
  await page.getByLabel('Sync', { exact: true }).selectOption('git')
  await page.getByLabel('force').check()
  const asked: string[] = []
  page.once('dialog', (d) => {
    asked.push(d.message())
    void d.dismiss()
  })
  await page.getByRole('button', { name: 'Start', exact: true }).click()
  await page.waitForTimeout(300)
  t.match(asked, [/with force\?/], 'force from the form asks first')
  t.match(await page.locator('#op-title').textContent(), /health on follower/, 'dismissed: nothing started')
})

t.test('messages from the page: sent to all with a receipt from each, and in the other node\'s inbox', async (t) => {
  const page = await signedIn(OPERATOR)
  await page.locator('#message-to option[value="third"]').waitFor({ state: 'attached' })
  await page.getByLabel('Message', { exact: true }).fill('hello from the page')
  await page.getByRole('button', { name: 'Send' }).click()
  for (const n of ['follower', 'third']) {
    await page.locator(`#sent-list tr[data-target="${n}"][data-state="delivered"]`).waitFor({ timeout: 15_000 })
  }
  t.pass('delivered to follower and third, each with its receipt')
  await page.screenshot({ path: join(SHOTS, 'ui-messages-sent.png'), fullPage: true })

  const inbox = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  t.teardown(() => inbox.close())
  await inbox.goto(`${cluster[1]!.daemon.url}/ui`)
  await inbox.getByLabel('API token').fill(TOKEN)
  await inbox.getByRole('button', { name: 'Open the dashboard' }).click()
  await inbox.locator('#inbox tr', { hasText: 'hello from the page' }).waitFor({ timeout: 10_000 })
  t.match(await inbox.locator('#inbox-title').textContent(), /Inbox of follower/)
  t.match(await inbox.locator('#inbox tr', { hasText: 'hello from the page' }).textContent(), /^genesis/, 'from genesis')
  await inbox.getByLabel('Message', { exact: true }).fill('a reader may not send')
  await inbox.getByRole('button', { name: 'Send' }).click()
  await inbox.locator('#message-error').waitFor({ state: 'visible' })
  t.match(await inbox.locator('#message-error').textContent(), /operate scope/, 'a read token is told which scope sending needs')
  await inbox.screenshot({ path: join(SHOTS, 'ui-messages-inbox.png'), fullPage: true })
})

t.test('every control has a label, and the sign-in works from the keyboard', async (t) => {
  const page = await openPage()
  await page.getByLabel('API token').waitFor()
  t.equal(await page.evaluate('document.activeElement && document.activeElement.id'), 'token', 'the token field has the focus at once')
  await page.keyboard.type(TOKEN)
  await page.keyboard.press('Enter')
  await page.locator('tr[data-node="genesis"]').waitFor()
  const unlabelled = await page.evaluate(`[...document.querySelectorAll('input, select, textarea, button')]
    .filter((e) => !(e.labels && e.labels.length > 0) && !e.getAttribute('aria-label') && !(e.textContent || '').trim())
    .map((e) => e.id || e.outerHTML.slice(0, 60))`) as string[]
  t.same(unlabelled, [], 'no control without a label')
  t.equal(await page.locator('#mesh-picture').getAttribute('role'), 'img')
  t.match(await page.locator('#mesh-picture').getAttribute('aria-label'), /^Mesh of 3 nodes with 3 links$/, 'the picture says what it shows')
})

t.test('with a read token the cluster page shows three nodes online, and a SIGKILLed node turns offline', async (t) => {
  const page = await openPage()
  await page.getByLabel('API token').fill(TOKEN)
  await page.getByRole('button', { name: 'Open the dashboard' }).click()
  await page.locator('tr[data-node="third"]').waitFor()
  for (const n of names) await page.locator(`tr[data-node="${n}"][data-state="online"]`).waitFor()
  t.same(await Promise.all(names.map((n) => stateOf(page, n))), ['online', 'online', 'online'], 'three nodes online')
  t.match(await page.locator('#summary').textContent(), /3 online, 0 degraded, 0 offline/)
  // The mesh picture: three nodes, every pair linked and confirmed by both ends.
  await page.locator('#mesh-picture line[data-link="follower genesis"]:not(.doubtful)').waitFor()
  t.same((await Promise.all((await page.locator('#mesh-picture line').all()).map((l) => l.getAttribute('data-link')))).sort(),
    ['follower genesis', 'follower third', 'genesis third'], 'a line for each pair')
  t.equal(await page.locator('#mesh-picture line.doubtful').count(), 0, 'none one-sided')
  await page.screenshot({ path: join(SHOTS, 'ui-cluster.png'), fullPage: true })

  await cluster[2]!.daemon.stop('SIGKILL', { keepData: true })
  const killedAt = Date.now()
  await page.locator('tr[data-node="third"][data-state="offline"]').waitFor({ timeout: 15_000 })
  t.comment(`offline on the page ${Date.now() - killedAt} ms after SIGKILL`)
  t.match(await page.locator('tr[data-node="third"] .reason').textContent(), /\S/, 'the reason is shown')
  await page.locator('#mesh-picture g.mesh-node.offline[data-node="third"]').waitFor()
  t.pass('the mesh picture shows it offline')
  await page.screenshot({ path: join(SHOTS, 'ui-cluster-offline.png'), fullPage: true })

  // The token is kept for the tab: a reload needs no second sign-in.
  await page.reload()
  await page.locator('tr[data-node="genesis"]').waitFor()
  t.notOk(await page.locator('#login').isVisible(), 'still signed in after a reload')
})

t.test('usable at a phone\'s width: no page-wide horizontal scroll, the table scrolls in its box', async (t) => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
  t.teardown(() => page.close())
  await page.goto(`${genesis.url}/ui`)
  await page.evaluate(`sessionStorage.setItem('aitbc-token', ${JSON.stringify(TOKEN)})`)
  await page.reload()
  await page.locator('tr[data-node="genesis"]').waitFor()
  await page.locator('#journal tbody tr').first().waitFor()
  const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as number
  const wide = await page.evaluate(`[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 1
    && (!e.parentElement?.closest('.scroll') || getComputedStyle(e).position !== 'static')).slice(0, 12).map((e) => (e.id || e.tagName) + ':' + Math.round(e.getBoundingClientRect().right) + ':' + getComputedStyle(e).position)`) as string[]
  t.ok(overflow <= 0, `the page is no wider than the screen (overflow ${overflow}px; too wide: ${wide.join(', ')})`)
  await page.screenshot({ path: join(SHOTS, 'ui-cluster-phone.png'), fullPage: true })
})

t.test('the page\'s files need no token, carry a strict CSP, and stay inside the dashboard', async (t) => {
  const res = await fetch(`${genesis.url}/ui/`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-security-policy'), /default-src 'self'/)
  // Sent as written (fetch would normalise the dots away before they reach the daemon).
  for (const path of ['/ui/../package.json', '/ui/%2e%2e/%2e%2e/package.json', '/ui/..%2f..%2fpackage.json', '/ui/nope.js', '/ui/.hidden']) {
    t.equal(await rawStatus(genesis.url, path), 404, `${path}: 404`)
  }
  const post = await fetch(`${genesis.url}/ui`, { method: 'POST' })
  t.equal(post.status, 405)
  for (const path of ['/nodes', '/tasks/queues/stats', '/ops', '/ops/00000000-0000-4000-8000-000000000000/events', '/messages/inbox']) {
    t.equal((await fetch(`${genesis.url}${path}`)).status, 401, `${path}: the data behind the page still needs the token`)
  }
  const forged = await fetch(`${genesis.url}/nodes`, { headers: { authorization: 'Bearer forged-token-that-no-one-issued-000' } })
  t.equal(forged.status, 401, 'a forged token: 401')
})
