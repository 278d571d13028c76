import type { RedisKeys } from '../redis-keys.js'
import { type RedisClient, withRedis } from '../registry/agent-registry.js'

/**
 * One-time move of the pull lists from agent:{id}:tasks (before 0.2, they made
 * the guide's `KEYS agent:*` return lists next to agent hashes) to
 * agent-tasks:{id}. Entries are appended to any list already there. Safe to
 * run on every start and by several daemons at once. Returns how many moved.
 */
export async function migrateAgentTaskLists(redis: RedisClient, keys: RedisKeys): Promise<number> {
  let cursor = '0'
  let moved = 0
  const head = keys.legacyAgentTasksPattern.slice(0, keys.legacyAgentTasksPattern.indexOf('*'))
  do {
    const [next, found] = await withRedis(() => redis.scan(cursor, 'MATCH', keys.legacyAgentTasksPattern, 'COUNT', 500))
    cursor = next
    for (const old of found) {
      const agentId = old.slice(head.length, old.length - ':tasks'.length)
      // One script per list: read, append, delete atomically, so a concurrent daemon moves nothing twice.
      const n = await withRedis(() => redis.eval(
        `if redis.call('TYPE', KEYS[1]).ok ~= 'list' then return 0 end
         local ids = redis.call('LRANGE', KEYS[1], 0, -1)
         if #ids > 0 then redis.call('RPUSH', KEYS[2], unpack(ids)) end
         redis.call('DEL', KEYS[1])
         return 1`,
        2, old, keys.agentTasks(agentId),
      )) as number
      moved += n
    }
  } while (cursor !== '0')
  return moved
}
