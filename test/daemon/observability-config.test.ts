import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parse } from 'yaml'
import { startDaemon } from '../fixtures/daemon.js'
import { startRedis } from '../fixtures/redis-server.js'

// The Grafana dashboard and the Prometheus alert rules under config/ against a real daemon's
// /metrics: every metric they use is one the daemon exports, and promtool accepts the rules
// and passes their unit tests (config/prometheus/aitbc-alerts.test.yml).
const file = (p: string) => fileURLToPath(new URL(`../../config/${p}`, import.meta.url))
const RULES = file('prometheus/aitbc-alerts.yml')
const RULE_TESTS = file('prometheus/aitbc-alerts.test.yml')
const DASHBOARD = file('grafana/aitbc-dashboard.json')

const redis = await startRedis()
t.teardown(() => redis.stop())
const daemon = await startDaemon({ args: ['--redis-url', redis.url, '--set', 'redis.prefix="obs:"'] })
t.teardown(() => daemon.stop())
await fetch(`${daemon.url}/health`) // one request, so the latency histogram has samples
const exposition = await (await fetch(`${daemon.url}/metrics`)).text()
const exported = new Map([...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]))

/** The metric names an expression reads, with histogram and summary suffixes resolved to their family. */
function metricsIn(expr: string): string[] {
  const names = [...expr.matchAll(/\b((?:aitbc|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!)
  return names.map((n) => {
    const family = n.replace(/_(bucket|sum|count)$/, '')
    return family !== n && exported.get(family) === 'histogram' ? family : n
  })
}

interface Rule {
  alert: string
  expr: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules)

t.test('the daemon exports the standard process metrics, a build info and the Redis and agent gauges', async (t) => {
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
    t.ok(exported.has(name), `${name} under its standard name`)
  }
  t.notOk([...exported.keys()].some((n) => n.startsWith('aitbc_process_') || n.startsWith('aitbc_nodejs_')), 'no prefixed copies')
  t.match(exposition, /^aitbc_build_info\{version="[^"]+",node="[^"]+",nodejs="v\d+[^"]*"\} 1$/m)
  t.match(exposition, /^aitbc_redis_up 1$/m, 'Redis up, from the health monitor')
  t.match(exposition, /^aitbc_redis_used_memory_bytes \d+$/m)
  t.match(exposition, /^aitbc_agents\{state="active"\} 0$/m)
  t.equal(exported.get('aitbc_tasks_total'), 'counter', 'task outcomes this daemon took: a counter')
  t.match(exposition, /^aitbc_http_request_duration_seconds_bucket\{le="60",/m, 'the latency histogram reaches long polls')
})

t.test('seed 002\'s alert list is covered, each rule reads only metrics the daemon exports', async (t) => {
  const names = rules.map((r) => r.alert)
  const seed002 = ['AitbcServiceDown', 'AitbcHighErrorRate', 'AitbcHighLatency', 'AitbcNoActiveAgents', 'AitbcStaleAgentsRising',
    'AitbcTaskBacklog', 'AitbcTaskFailureRate', 'AitbcRedisDown', 'AitbcRedisMemoryHigh', 'AitbcRedisSlow']
  for (const want of seed002) {
    t.ok(names.includes(want), want)
  }
  for (const r of rules) {
    for (const m of metricsIn(r.expr)) t.ok(exported.has(m), `${r.alert}: ${m} is exported`)
    t.ok(r.annotations?.summary && r.annotations.description, `${r.alert}: says what and what to do`)
    t.match(r.labels?.severity, /^(critical|warning)$/, `${r.alert}: a severity`)
  }
})

t.test('promtool checks the rules and passes their unit tests', async (t) => {
  const promtool = spawnSync('promtool', ['--version'])
  t.equal(promtool.error, undefined, 'promtool is installed (Debian package prometheus; ./dev test and .ci/run install it)')
  t.match(execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' }), new RegExp(`SUCCESS: ${rules.length} rules found`))
  t.match(execFileSync('promtool', ['test', 'rules', RULE_TESTS], { encoding: 'utf8' }), /SUCCESS/)
})

interface Panel {
  id: number
  type: string
  title: string
  gridPos: { h: number, w: number, x: number, y: number }
  datasource?: { type: string, uid: string }
  targets?: { refId: string, expr: string, datasource?: { uid: string } }[]
}
interface Dashboard {
  uid: string
  title: string
  schemaVersion: number
  panels: Panel[]
  templating: { list: { name: string, type: string }[] }
}

t.test('the Grafana dashboard is well formed and reads only exported metrics', async (t) => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard
  t.equal(dash.uid, 'aitbc-node')
  t.ok(dash.schemaVersion >= 36, 'a current schema')
  t.ok(dash.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'), 'the Prometheus data source is a variable')
  const ids = dash.panels.map((p) => p.id)
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  const cells = new Map<string, string>()
  const overlaps: string[] = []
  for (const p of dash.panels) {
    const { x, y, w, h } = p.gridPos
    t.ok(x >= 0 && w > 0 && x + w <= 24, `${p.title}: within the 24 columns`)
    for (let i = x; i < x + w; i++) {
      for (let j = y; j < y + h; j++) {
        const other = cells.get(`${i},${j}`)
        if (other !== undefined) overlaps.push(`${p.title} / ${other}`)
        cells.set(`${i},${j}`, p.title)
      }
    }
    if (p.type === 'row') continue
    t.equal(p.datasource?.uid, '${datasource}', `${p.title}: uses the data source variable`)
    t.ok((p.targets ?? []).length > 0, `${p.title}: has a query`)
    for (const target of p.targets ?? []) {
      t.ok(target.expr.length > 0 && /^[A-Z]$/.test(target.refId), `${p.title}: ${target.refId} is a query`)
      for (const m of metricsIn(target.expr)) t.ok(exported.has(m), `${p.title}: ${m} is exported`)
    }
  }
  t.same([...new Set(overlaps)], [], 'no two panels overlap')
})
