import type { RedisKeys } from './redis-keys.js'
import { type RedisClient, withRedis } from './redis-client.js'
import { STRATEGIES, type Strategy } from '../tasks/task.js'

/** The strategy every daemon on a registry uses, and the round-robin turn they share. */
export class LoadBalancerState {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly defaultStrategy: Strategy,
  ) {}

  async strategy(): Promise<Strategy> {
    const s = await withRedis(() => this.redis.get(this.keys.strategy))
    return (STRATEGIES as readonly string[]).includes(s ?? '') ? (s as Strategy) : this.defaultStrategy
  }

  /** Stores the strategy and tells every daemon (they re-read it at once). */
  async setStrategy(s: Strategy): Promise<void> {
    await withRedis(() => this.redis.multi().set(this.keys.strategy, s).publish(this.keys.taskEvents, 'g').exec())
  }

  /** A counter shared by all daemons, for round robin. */
  nextTurn(): Promise<number> {
    return withRedis(() => this.redis.incr(this.keys.roundRobin))
  }
}
