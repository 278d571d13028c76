import type { BindingStore } from '../../p2p/index.js'
import type { RedisKeys } from './redis-keys.js'
import { type RedisClient, withRedis } from './redis-client.js'

/** Names pinned to peer ids on first sight, shared by every daemon on the registry (HSETNX: the first claim wins). */
export class RedisBindingStore implements BindingStore {
  constructor(private readonly redis: RedisClient, private readonly keys: RedisKeys) {}

  all(): Promise<Record<string, string>> {
    return withRedis(() => this.redis.hgetall(this.keys.nodeBindings))
  }

  async pin(name: string, peerId: string): Promise<string> {
    const key = this.keys.nodeBindings
    const [, bound] = await withRedis(() => this.redis.multi().hsetnx(key, name, peerId).hget(key, name).exec()) ?? []
    return String(bound?.[1] ?? peerId)
  }

  async forget(name: string): Promise<boolean> {
    return (await withRedis(() => this.redis.hdel(this.keys.nodeBindings, name))) > 0
  }
}
