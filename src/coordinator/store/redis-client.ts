import type { Cluster, Redis } from 'ioredis'
import { isRedisConnectionError } from '../errors.js'
import { RegistryUnavailableError } from '../registry/registry-errors.js'

/** The Redis client every adapter runs on: a single server, Sentinel-managed, or a Cluster. */
export type RedisClient = Redis | Cluster

/** Runs a Redis call and turns "Redis is unreachable" into a 503 the API can show. */
export async function withRedis<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isRedisConnectionError(err)) throw new RegistryUnavailableError(err)
    throw err
  }
}
