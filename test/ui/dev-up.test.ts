import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import t from 'tap'
import { BIN } from '../fixtures/daemon.js'
import { freeClusterBase, waitFor } from '../fixtures/poll.js'

// Issue 14's "done when": the local cluster ./dev up starts (three daemons, embedded Redis, the
// simulated chain and git upstream), its dashboard opened as a new operator would, status and a
// forced git sync run from the page to success.
const SHOTS = join(process.cwd(), '.tap', 'screenshots')
mkdirSync(SHOTS, { recursive: true })
const base = await freeClusterBase()
const dir = mkdtempSync(join(tmpdir(), 'aitbc-devup-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('a new operator opens /ui, sees the cluster, runs status and a forced git sync and watches both finish', async (t) => {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'local-cluster', '--data-dir', dir, '--base-port', String(base)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()))
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGINT')
    await exited
  })
  await waitFor('three daemons ready', () => (out.match(/\] ready /g) ?? []).length === 3, { timeoutMs: 60_000 })
    .catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; local-cluster printed:\n${out.slice(-3000)}`)
    })
  const url = `http://127.0.0.1:${base}/ui`
  t.match(out, `open ${url}`, 'the start-up output says where the dashboard is')

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] })
  t.teardown(() => browser.close())

  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  t.teardown(() => page.close())
  const asked: string[] = []
  page.on('dialog', (d) => {
    asked.push(d.message())
    void d.accept()
  })
  await page.goto(url)
  await page.locator('#summary', { hasText: '3 online, 0 degraded, 0 offline' }).waitFor({ timeout: 20_000 })
  t.notOk(await page.locator('#login').isVisible(), 'on loopback the local cluster takes calls without a token (its start-up log says anonymous: true)')
  for (const [button, title, summary] of [
    ['Check status of all nodes', 'Check status', /3 of 3 nodes online/],
    ['Sync git repository across all nodes (force)', 'Sync git repository', /git sync: all in sync across 3 nodes/],
  ] as const) {
    await page.getByRole('button', { name: button }).click()
    await page.locator('#op-title', { hasText: title }).waitFor()
    await page.locator('#op-report').waitFor({ state: 'visible', timeout: 60_000 })
    t.equal(await page.locator('#op-verdict').textContent(), 'success', `${button}: success`)
    t.match(await page.locator('#op-summary').textContent(), summary)
    t.same(await page.locator('#op-issues li').allTextContents(), ['none'], `${button}: no issues`)
    for (const n of ['genesis', 'follower', 'node3']) t.ok(await page.locator(`#op-log li[data-node="${n}"]`).count() > 0, `progress from ${n}`)
    await page.screenshot({ path: join(SHOTS, `dev-up-${title.replaceAll(' ', '-').toLowerCase()}.png`), fullPage: true })
  }
  t.match(asked, [/with force\?/], 'the forced sync asked first')
})
