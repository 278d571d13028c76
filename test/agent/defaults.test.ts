import t from 'tap'
import { DEFAULT_STALE_AFTER_MS, DEFAULT_TASK_TIMEOUT_MS } from '../../src/agent/index.js'
import { configSchema } from '../../src/daemon/config/schema.js'

// src/agent cannot import the daemon's schema, so its mirrored defaults are checked here.
const defaults = configSchema.parse({})

t.equal(DEFAULT_STALE_AFTER_MS, defaults.agents.staleAfterMs, 'the assumed stale interval is agents.staleAfterMs\'s default')
t.equal(DEFAULT_TASK_TIMEOUT_MS, defaults.tasks.defaultTimeoutMs, 'a pushed task\'s fallback lease is tasks.defaultTimeoutMs\'s default')
