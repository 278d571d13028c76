import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  DEFAULT_CLOSE_TIMEOUT_MS, DEFAULT_CONCURRENCY, DEFAULT_POLL_WAIT_MS, DEFAULT_STALE_AFTER_MS, DEFAULT_TASK_TIMEOUT_MS,
  MAX_HEARTBEAT_MS,
} from '../../src/agent/defaults.js'
import { configSchema } from '../../src/daemon/config/schema.js'

// src/agent cannot import the daemon's schema, so its mirrored defaults are checked here.
const defaults = configSchema.parse({})

t.equal(DEFAULT_STALE_AFTER_MS, defaults.agents.staleAfterMs, 'the assumed stale interval is agents.staleAfterMs\'s default')
t.equal(DEFAULT_TASK_TIMEOUT_MS, defaults.tasks.defaultTimeoutMs, 'a pushed task\'s fallback lease is tasks.defaultTimeoutMs\'s default')

// docs/agents.md's table of options states the same figures.
const doc = readFileSync(new URL('../../docs/agents.md', import.meta.url), 'utf8')
const row = (option: string): string => doc.split('\n').find((l) => l.startsWith(`| ${option} |`)) ?? ''
t.match(row('`concurrency`'), new RegExp(`else ${DEFAULT_CONCURRENCY} \\|`), 'docs: concurrency')
t.match(row('`heartbeatMs`'), new RegExp(`\\(${DEFAULT_STALE_AFTER_MS} ms if it states none\\), at most ${MAX_HEARTBEAT_MS} ms`), 'docs: heartbeatMs')
t.match(row('`pollWaitMs`'), `| ${DEFAULT_POLL_WAIT_MS} ms |`, 'docs: pollWaitMs')
t.match(row('`closeTimeoutMs`'), `| ${DEFAULT_CLOSE_TIMEOUT_MS} ms |`, 'docs: closeTimeoutMs')
t.match(row('a pushed task\'s lease'), `| ${DEFAULT_TASK_TIMEOUT_MS} ms,`, 'docs: a pushed task\'s lease')
