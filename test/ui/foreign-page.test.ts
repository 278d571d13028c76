import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import t from 'tap'
import { api, startDaemon } from '../fixtures/daemon.js'
import { serveLocal } from '../fixtures/http-server.js'
import { waitFor } from '../fixtures/poll.js'
import { startRedis } from '../fixtures/redis-server.js'

// Issue 28: a page in the operator's browser must not drive a local daemon. The daemon runs as
// ./dev up runs it (loopback, no token: anonymous); the browser is Debian's Chromium. A page from
// another loopback origin posts text/plain with fetch and with a form; a rebound name
// (evil.example -> 127.0.0.1) loads the daemon's own port. The daemon's own dashboard still works.
const CHROMIUM = '/usr/bin/chromium'
t.ok(existsSync(CHROMIUM), 'Debian\'s chromium is installed (./dev test and .ci/run install it)')

const redis = await startRedis()
t.teardown(() => redis.stop())
const d = await startDaemon({ args: ['--redis-url', redis.url, '--set', 'redis.prefix="foreign:"', '--name', 'genesis'] })
t.teardown(() => d.stop())

const profile = mkdtempSync(join(tmpdir(), 'aitbc-chromium-'))
t.teardown(() => rmSync(profile, { recursive: true, force: true }))
const browser: BrowserContext = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--host-resolver-rules=MAP evil.example 127.0.0.1'],
})
t.teardown(() => browser.close())

const registered = async (id: string) => (await api(d.url, 'GET', `/agents/${id}`)).status === 200
/** How many requests the daemon answered with this status before any route (the guard's refusals). */
async function refusedCount(method: string, status: number): Promise<number> {
  const text = await (await fetch(`${d.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`aitbc_http_requests_total{method="${method}",route="unmatched",status="${status}"}`))
  return line === undefined ? 0 : Number(line.split(' ').at(-1))
}

t.test('the daemon says at start that it runs anonymous', async (t) => {
  const warned = d.logs.find((l) => l.level === 40 && /anonymous API/.test(l.msg ?? ''))
  t.ok(warned, 'a warning at start names the mode and the fix')
  t.match(warned?.msg, /AITBC_API_TOKEN or auth\.tokens/)
})

t.test('a page from another loopback origin cannot register an agent or run an operation', async (t) => {
  const agentBody = (id: string) => JSON.stringify({ agent_id: id, agent_type: 'worker', endpoints: { http: 'http://127.0.0.1:9' } })
  // The classic text/plain form: name + "=" + value is JSON, and a form needs no preflight.
  const formField = (id: string) => `<input type="hidden" name='{"agent_id":"${id}","agent_type":"worker","pad":"' value='"}'>`
  const page = `<!doctype html><title>not the dashboard</title>
<iframe name="sink-agent"></iframe><iframe name="sink-op"></iframe>
<form id="agent" method="POST" enctype="text/plain" target="sink-agent" action="${d.url}/agents/register">${formField('form-agent')}</form>
<form id="op" method="POST" enctype="text/plain" target="sink-op" action="${d.url}/ops">
<input type="hidden" name='{"operation":"status","target_node":"all","pad":"' value='"}'></form>
<script>
const post = (path, body) => fetch(${JSON.stringify(d.url)} + path, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body })
  .then(() => 'answered', (e) => String(e))
window.done = Promise.all([
  post('/agents/register', ${JSON.stringify(agentBody('fetch-agent'))}),
  post('/ops', ${JSON.stringify(JSON.stringify({ operation: 'status', target_node: 'all' }))}),
  post('/tasks/queues/low/clear', ''),
])
</script>`
  const attacker = await serveLocal(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(page)
  })
  t.not(new URL(attacker.url).origin, new URL(d.url).origin, 'the page has another origin, on loopback')
  const before = { post403: await refusedCount('POST', 403), post415: await refusedCount('POST', 415) }

  const tab = await browser.newPage()
  t.teardown(() => tab.close())
  await tab.goto(`${attacker.url}/`)
  t.same(await tab.evaluate('window.done'), ['answered', 'answered', 'answered'],
    'the daemon answered each no-cors POST (opaque to the page)')
  for (const form of ['agent', 'op']) {
    const loaded = tab.frame({ name: `sink-${form}` })!.waitForNavigation({ timeout: 15_000 })
    await tab.evaluate(`document.getElementById('${form}').submit()`)
    await loaded
  }
  // Every request above has been answered (the fetches resolved, the forms' frames loaded).
  t.ok(!(await registered('fetch-agent')), 'no agent from the text/plain fetch')
  t.ok(!(await registered('form-agent')), 'no agent from the form')
  const ops = await api(d.url, 'GET', '/ops')
  t.equal(ops.body.count, 0, 'no operation ran')
  await waitFor('the daemon counted the refused POSTs', async () => (await refusedCount('POST', 403)) >= before.post403 + 5, { timeoutMs: 10_000 })
  t.equal(await refusedCount('POST', 415), before.post415, 'refused for their Origin first, before their type was read')
})

t.test('DNS rebinding: a page of evil.example resolved to 127.0.0.1 gets nothing from the daemon\'s port', async (t) => {
  const tab = await browser.newPage()
  t.teardown(() => tab.close())
  const res = await tab.goto(`http://evil.example:${d.port}/ui`)
  t.equal(res?.status(), 421, 'the dashboard is refused under a foreign Host')
  t.match(await res?.json(), { code: 'HOST_NOT_ALLOWED', detail: /coordinator\.allowedHosts/ })
  // From the page's point of view these are same-origin: it may send JSON and read the answer.
  const answers = await tab.evaluate(async (body) => {
    const register = await fetch('/agents/register', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    const health = await fetch('/health')
    const events = await fetch('/ops')
    return [register.status, health.status, events.status]
  }, JSON.stringify({ agent_id: 'rebound-agent', agent_type: 'worker' }))
  t.same(answers, [421, 421, 421], 'register, health and the journal: all refused')
  t.ok(!(await registered('rebound-agent')), 'no agent registered')
})

t.test('the daemon\'s own dashboard still works: its page, its JSON POSTs and its event stream', async (t) => {
  for (const origin of [d.url, `http://localhost:${d.port}`]) {
    const tab = await browser.newPage()
    t.teardown(() => tab.close())
    await tab.goto(`${origin}/ui`)
    await tab.locator('tr[data-node="genesis"]').waitFor({ timeout: 20_000 })
    t.notOk(await tab.locator('#login').isVisible(), `${origin}: no token asked (anonymous mode)`)
    const id = `own-${new URL(origin).hostname.replaceAll('.', '-')}`
    const got = await tab.evaluate(async (id) => {
      const register = await fetch('/agents/register', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent_id: id, agent_type: 'worker' }),
      })
      const started = await (await fetch('/ops?wait=0', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ operation: 'status', target_node: 'all' }),
      })).json() as { events: string }
      const first = await new Promise<string>((resolve) => {
        const source = new EventSource(started.events)
        const timer = setTimeout(() => resolve('no event in 15 s'), 15_000)
        // The stream replays the operation's events from the start and ends with 'done'.
        source.addEventListener('done', (e) => {
          clearTimeout(timer)
          source.close()
          resolve(String((e as unknown as { data: unknown }).data).slice(0, 200))
        })
      })
      return { register: register.status, first }
    }, id)
    t.equal(got.register, 200, `${origin}: a JSON POST from the dashboard's origin`)
    t.match(got.first, /"operation":"status"/, `${origin}: EventSource on the operation's stream gets its report`)
    t.ok(await registered(id), `${origin}: the agent is registered`)
  }
})
