import { randomUUID } from 'node:crypto'
import type { RedisKeys } from './redis-keys.js'
import type { RedisClient } from './redis-client.js'

/**
 * The id of the registry this Redis holds, created by the first daemon that
 * asks. Daemons gossip it: two nodes with different ids are on different
 * registries, however their URLs look: a split registry is found, not
 * silently lived with.
 */
export async function readClusterId(redis: RedisClient, keys: RedisKeys): Promise<string> {
  await redis.set(keys.clusterId, randomUUID(), 'NX')
  const id = await redis.get(keys.clusterId)
  if (id === null) throw new Error(`${keys.clusterId} vanished right after it was set`)
  return id
}
