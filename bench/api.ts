/**
 * The API's speed beside a Koa hello app, in one run on one machine:
 *  - the CLI as a whole command (`status --target all` against a running daemon) beside `node -e 0`;
 *  - req/s of GET /health, GET /nodes and POST /agents/discover (1,000 registered agents)
 *    beside a Koa app answering {"hello":"world"}, the same load generator for both
 *    (64 keep-alive connections through an undici Pool), each warmed up, then run
 *    BENCH_RUNS times alternately; medians and the median ratio of the pairs are printed.
 *
 *   npm run bench:api
 */
import { execFile, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { registerAgent } from '../test/fixtures/agents.js'
import { BIN, startDaemon } from '../test/fixtures/daemon.js'
import { waitFor } from '../test/fixtures/poll.js'
import { startRedis } from '../test/fixtures/redis-server.js'
import { HttpLoad } from './http-load.js'
import { fmt, median, pairs, printTable } from './stats.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000)
const CLI_RUNS = 10
const run = promisify(execFile)

const redis = await startRedis()
const daemon = await startDaemon({ args: ['--redis-url', redis.url, '--set', 'redis.prefix="benchapi:"', '--log-level', 'warn'], waitReady: false })
await waitFor('daemon up', () => fetch(`${daemon.url}/health`).then((r) => r.ok, () => false), { timeoutMs: 20_000 })
for (let i = 0; i < 1000; i += 50) {
  await Promise.all(Array.from({ length: 50 }, (_, j) => registerAgent(daemon.url, `agent-${i + j}`, {
    agent_type: (i + j) % 2 === 0 ? 'worker' : 'validator',
    capabilities: (i + j) % 10 === 0 ? ['gpu', 'llama2'] : ['llama2'],
  })))
}

// The peer runs in a process of its own, as the daemon does.
const hello = spawn(process.execPath, [fileURLToPath(new URL('./koa-hello.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] })
const helloUrl = await new Promise<string>((resolve, reject) => {
  hello.stdout.once('data', (b: Buffer) => resolve(b.toString().trim()))
  hello.once('exit', (code) => reject(new Error(`the Koa hello app exited with ${code}`)))
})

/** req/s of `REQUESTS` requests, 64 at a time. */
async function rate(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<number> {
  const http = new HttpLoad(base, 64)
  const started = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next++ < REQUESTS) {
      const { status, error } = await http.status(method, path, body)
      if (status !== 200) throw new Error(`${method} ${path}: ${status} ${error ?? ''}`)
    }
  }))
  const perSecond = REQUESTS / ((performance.now() - started) / 1000)
  await http.close()
  return perSecond
}

async function seconds(file: string, args: string[]): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < CLI_RUNS + 1; i++) {
    const started = performance.now()
    await run(process.execPath, [file, ...args].filter((a) => a !== ''))
    if (i > 0) times.push((performance.now() - started) / 1000)
  }
  return median(times)
}

const koaHello = () => rate(helloUrl, 'GET', '/')
const rows: (string | number)[][] = []
const targets: Record<string, number> = { '/health': 0.7, 'POST /agents/discover (1000 agents)': 0.3 }
for (const [name, measure] of [
  ['/health', () => rate(daemon.url, 'GET', '/health')],
  ['/nodes', () => rate(daemon.url, 'GET', '/nodes')],
  ['POST /agents/discover (1000 agents)', () => rate(daemon.url, 'POST', '/agents/discover', { capabilities: ['gpu'], limit: 20 })],
  ['POST /agents/discover, no filter', () => rate(daemon.url, 'POST', '/agents/discover', { limit: 20 })],
] as const) {
  const [ours, theirs, ratio] = await pairs(measure, koaHello, RUNS)
  const target = targets[name]
  rows.push([name, Math.round(ours), Math.round(theirs), fmt(ratio, 2), target === undefined ? '' : `>= ${target}`])
}

const node0 = await seconds('-e', ['0'])
const cli = await seconds(BIN, ['--url', daemon.url, 'status', '--target', 'all'])
const help = await seconds(BIN, ['--help'])

console.log(`${REQUESTS} requests per run, 64 connections, ${RUNS} runs each after a warm-up, alternating; node ${process.version}`)
printTable(['route', 'aitbc-node req/s', 'Koa hello req/s', 'ratio (median of pairs)', 'target'], rows)
console.log()
printTable(['command (median of 10)', 'seconds'], [
  ['node -e 0', fmt(node0, 3)],
  ['aitbc-node --help', fmt(help, 3)],
  ['aitbc-node status --target all (target 0.15)', fmt(cli, 3)],
])
hello.kill('SIGTERM')
await daemon.stop()
await redis.stop()
process.exit(0)
