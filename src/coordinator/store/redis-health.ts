import type { RedisClient } from './redis-client.js'

/** What /health and `status` say about the shared Redis. */
export interface RedisHealth {
  ok: boolean
  latency_ms: number | null
  aof_enabled: boolean | null
  /**
   * Redis's appendfsync (always, everysec, no); null when CONFIG is not allowed.
   * Only `always` keeps every acknowledged write through a crash of Redis itself:
   * under everysec a SIGKILLed Redis can drop what it answered in its last second or two.
   */
  aof_fsync: string | null
  maxmemory_policy: string | null
  /** Bytes Redis uses, and its maxmemory (0: no limit); null when unknown. */
  used_memory_bytes: number | null
  maxmemory_bytes: number | null
  warnings: string[]
  error: string | null
}

const EVICTING = /^(allkeys|volatile)-/

/**
 * Pings Redis and reads its durability settings. AOF off loses acknowledged
 * writes on a crash (about half of them under load), and an evicting
 * maxmemory-policy (allkeys-lru, say) would silently drop registry keys.
 */
export async function checkRedis(redis: RedisClient, timeoutMs = 2000): Promise<RedisHealth> {
  const started = performance.now()
  try {
    const signal = AbortSignal.timeout(timeoutMs)
    const timedOut = new Promise<never>((_, reject) =>
      signal.addEventListener('abort', () => reject(new Error(`no answer within ${timeoutMs} ms`)), {
        once: true,
      }),
    )
    await Promise.race([redis.ping(), timedOut])
    const latency = performance.now() - started
    const info = await Promise.race([redis.info('persistence'), timedOut])
    const aof = /aof_enabled:(\d)/.exec(String(info))?.[1]
    const memory = String(await Promise.race([redis.info('memory'), timedOut]))
    const used = /used_memory:(\d+)/.exec(memory)?.[1]
    const max = /maxmemory:(\d+)/.exec(memory)?.[1]
    let policy: string | null = null
    let fsync: string | null = null
    try {
      // One CONFIG GET for both (Redis 7 takes several names); the answer is name, value pairs.
      const res = (await Promise.race([redis.call('CONFIG', 'GET', 'maxmemory-policy', 'appendfsync'), timedOut])) as string[]
      const pairs = new Map<string, string>()
      for (let i = 0; i + 1 < res.length; i += 2) pairs.set(String(res[i]), String(res[i + 1]))
      policy = pairs.get('maxmemory-policy') ?? null
      fsync = pairs.get('appendfsync') ?? null
    } catch {
      // CONFIG may be renamed or disabled on managed Redis
    }
    const warnings: string[] = []
    if (aof === '0')
      warnings.push('Redis runs without AOF (appendonly no): a Redis crash loses acknowledged writes')
    if (policy !== null && EVICTING.test(policy)) {
      warnings.push(`Redis maxmemory-policy is ${policy}: registry keys can be evicted; use noeviction`)
    }
    return {
      ok: true,
      latency_ms: Math.round(latency * 100) / 100,
      aof_enabled: aof === undefined ? null : aof === '1',
      aof_fsync: fsync,
      maxmemory_policy: policy,
      used_memory_bytes: used === undefined ? null : Number(used),
      maxmemory_bytes: max === undefined ? null : Number(max),
      warnings,
      error: null,
    }
  } catch (err) {
    return {
      ok: false,
      latency_ms: null,
      aof_enabled: null,
      aof_fsync: null,
      maxmemory_policy: null,
      used_memory_bytes: null,
      maxmemory_bytes: null,
      warnings: [],
      error: err instanceof Error ? err.message : String(err),
    }
  }
}
