import { Redis } from 'ioredis'
import { type Logger, pino } from 'pino'
import t, { type Test } from 'tap'
import { nowOrWhenRegistryAnswers, RegistryNotAnsweringError, retryWhileRegistryAway } from '../../../src/coordinator/index.js'
import { isRedisConnectionError } from '../../../src/coordinator/errors.js'
import { withRedis } from '../../../src/coordinator/store/redis-client.js'
import { waitFor } from '../../fixtures/poll.js'
import { pauseRedis, startRedis, type TestRedis } from '../../fixtures/redis-server.js'

// The start-time retry against a real redis-server that is down, or hung by
// SIGSTOP, through a client set up as the daemon's (no offline queue, one
// retry per request, a command timeout).

/** A client like the daemon's, with a short command timeout so a hung Redis shows quickly. */
function client(t: Test, redis: TestRedis): Redis {
  const c = new Redis(redis.url, {
    lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 300, connectTimeout: 300,
    retryStrategy: () => 100,
  })
  c.on('error', () => {})
  t.teardown(() => c.disconnect())
  return c
}

interface LogLine {
  level: number
  msg: string
  step?: string
}

/** A logger whose lines the test reads. */
function logLines(): { log: Logger, lines: LogLine[] } {
  const lines: LogLine[] = []
  const log = pino({ level: 'info' }, {
    write: (line: string) => {
      lines.push(JSON.parse(line) as LogLine)
    },
  })
  return { log, lines }
}

const WARN = 40
const step = 'loading the test key'

t.test('a Redis that is down: retried until it is back, one warning, then done', async (t) => {
  const redis = await startRedis({ appendonly: false })
  t.teardown(() => redis.stop())
  const c = client(t, redis)
  await c.connect()
  await redis.kill()
  const { log, lines } = logLines()
  let attempts = 0
  const value = retryWhileRegistryAway(() => {
    attempts++
    return withRedis(() => c.get('k'))
  }, { step, log })
  await waitFor('a few attempts', () => attempts >= 4, { timeoutMs: 20_000 })
  await redis.restart()
  t.equal(await value, null, 'read once Redis answered')
  const warnings = lines.filter((l) => l.level === WARN)
  t.equal(warnings.length, 1, 'one warning however many attempts')
  t.match(warnings[0], { step, msg: /^Redis registry not answering while loading the test key; retrying for up to 60 s: check redis.url and that redis-server runs$/ })
  t.ok(lines.some((l) => l.msg === `Redis registry answered; ${step}: done`), 'the recovery is logged')
})

t.test('a hung Redis (SIGSTOP): command timeouts are retried until it answers', async (t) => {
  const redis = await startRedis({ appendonly: false })
  t.teardown(() => redis.stop())
  const c = client(t, redis)
  await c.connect()
  await c.set('k', 'v')
  const resume = pauseRedis(redis)
  t.teardown(resume)
  const errors: string[] = []
  const { log } = logLines()
  let attempts = 0
  const value = retryWhileRegistryAway(async () => {
    attempts++
    try {
      return await c.get('k')
    } catch (err) {
      errors.push((err as Error).message)
      throw err
    }
  }, { step, log })
  await waitFor('attempts that timed out', () => attempts >= 3, { timeoutMs: 20_000 })
  resume()
  t.equal(await value, 'v')
  t.ok(errors.includes('Command timed out'), `a timeout was retried (${[...new Set(errors)].join('; ')})`)
})

t.test('stops at the bound with an error naming the step', async (t) => {
  const redis = await startRedis({ appendonly: false })
  t.teardown(() => redis.stop())
  const c = client(t, redis)
  await redis.kill()
  const started = performance.now()
  let attempts = 0
  const err = await retryWhileRegistryAway(() => {
    attempts++
    return withRedis(() => c.get('k'))
  }, { step, log: logLines().log, forMs: 1000 }).catch((e: unknown) => e)
  const took = performance.now() - started
  t.type(err, RegistryNotAnsweringError)
  t.match(err, { code: 'ERR_REGISTRY_NOT_ANSWERING', message: /did not answer within 1 s while loading the test key: check redis.url/ })
  t.ok(isRedisConnectionError((err as Error).cause), 'the last connection error is its cause')
  t.ok(took >= 900 && took < 5000, `gave up at the bound (${Math.round(took)} ms)`)
  t.ok(attempts >= 3, `retried meanwhile (${attempts} attempts)`)
})

t.test('an abort ends the wait at once with its reason', async (t) => {
  const redis = await startRedis({ appendonly: false })
  t.teardown(() => redis.stop())
  const c = client(t, redis)
  await redis.kill()
  const stop = new AbortController()
  let attempts = 0
  const waiting = retryWhileRegistryAway(() => {
    attempts++
    return withRedis(() => c.get('k'))
  }, { step, log: logLines().log, signal: stop.signal, forMs: Infinity })
  await waitFor('retrying', () => attempts >= 2, { timeoutMs: 20_000 })
  const reason = new Error('the daemon is stopping')
  const abortedAt = performance.now()
  stop.abort(reason)
  const err = await waiting.catch((e: unknown) => e)
  t.equal(err, reason, 'rejects with the reason')
  t.ok(performance.now() - abortedAt < 500, 'without waiting out the backoff')
  const after = attempts
  await new Promise((r) => setTimeout(r, 500))
  t.equal(attempts, after, 'no attempt after the abort')
})

t.test('an error that is not about the connection is thrown at once, unretried', async (t) => {
  const redis = await startRedis({ appendonly: false })
  t.teardown(() => redis.stop())
  const c = client(t, redis)
  await c.connect()
  await c.hset('h', 'f', 'v')
  const { log, lines } = logLines()
  let attempts = 0
  const err = await retryWhileRegistryAway(() => {
    attempts++
    return withRedis(() => c.get('h'))
  }, { step, log }).catch((e: unknown) => e)
  t.match(err, { message: /WRONGTYPE/ })
  t.equal(attempts, 1)
  t.equal(lines.length, 0, 'nothing logged')
})

t.test('a step the daemon can run without: the start goes on, the step is done once Redis is back', async (t) => {
  const redis = await startRedis({ appendonly: false })
  t.teardown(() => redis.stop())
  const c = client(t, redis)
  await redis.kill()
  const { log, lines } = logLines()
  let done = false
  let later = false
  const stop = new AbortController()
  t.teardown(() => stop.abort())
  await nowOrWhenRegistryAnswers(async () => {
    await withRedis(() => c.set('k', 'late'))
    done = true
  }, {
    step,
    meanwhile: 'the test key is missing',
    log,
    signal: stop.signal,
    forMs: Infinity,
    onLater: () => {
      later = true
    },
  })
  t.notOk(done, 'resolved before the step could be done')
  t.match(lines.filter((l) => l.level === WARN), [{ msg: /retrying in the background until it answers/ }])
  await redis.restart()
  await waitFor('the step done late', () => later, { timeoutMs: 20_000 })
  t.ok(done)
  t.equal(await c.get('k'), 'late')
})

t.test('what counts as Redis being away', async (t) => {
  const away = ['Connection is closed.', 'Command timed out', 'Stream isn\'t writeable and enableOfflineQueue options is false',
    'connect ECONNREFUSED 127.0.0.1:1', 'LOADING Redis is loading the dataset in memory', 'Cluster isn\'t ready and enableOfflineQueue options is false']
  for (const m of away) t.ok(isRedisConnectionError(new Error(m)), m)
  t.ok(isRedisConnectionError(await withRedis(() => Promise.reject(new Error('Connection is closed.'))).catch((e: unknown) => e)),
    'a REDIS_UNAVAILABLE made of one')
  for (const m of ['WRONGTYPE Operation against a key holding the wrong kind of value', 'error while loading the outbox']) {
    t.notOk(isRedisConnectionError(new Error(m)), m)
  }
})
