/**
 * Lua scripts of the agent registry. Each runs atomically in Redis and takes
 * the time from Redis itself, so every daemon sharing the registry agrees on
 * "now" whatever its own clock says.
 */

// Health score: 1.0 is an active agent with no load. Status sets the ceiling,
// load (0-100, mean of cpu and memory percent) can take off up to half of it.
const healthScore = `
local function health_score(status, load)
  local base = { active = 1.0, busy = 0.5, maintenance = 0.2, inactive = 0.1, error = 0.0, stale = 0.0 }
  local b = base[status] or 0.0
  local score = b * (1 - (tonumber(load) or 0) / 200)
  return string.format('%.3f', score)
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function index(key_active, key_all, key_hb, id, status, now)
  if status == 'active' then redis.call('SADD', key_active, id) else redis.call('SREM', key_active, id) end
  redis.call('SADD', key_all, id)
  redis.call('ZADD', key_hb, now, id)
end
`

/**
 * KEYS: 1 agent hash, 2 active set, 3 all set, 4 heartbeat zset, 5 push-agent set
 * ARGV: 1 agent id, 2 now (ISO), 3 status, 4 load, 5 "1" when tasks are pushed to it, 6 task event channel,
 *       7.. field/value pairs
 * Returns the first registration time (kept across re-registrations). Tells
 * every daemon's distributor that the agents changed (g on the channel).
 */
export const registerAgent = `${healthScore}
local now = now_ms()
redis.call('HSETNX', KEYS[1], 'registered_at', ARGV[2])
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'load', ARGV[4], 'health_score', health_score(ARGV[3], ARGV[4]),
  'updated_at', ARGV[2], 'last_heartbeat', ARGV[2], unpack(ARGV, 7))
index(KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[3], now)
if ARGV[5] == '1' then redis.call('SADD', KEYS[5], ARGV[1]) else redis.call('SREM', KEYS[5], ARGV[1]) end
redis.call('PUBLISH', ARGV[6], 'g')
return redis.call('HGET', KEYS[1], 'registered_at')
`

/**
 * Heartbeat or status update.
 * KEYS: 1 agent hash, 2 active set, 3 all set, 4 heartbeat zset
 * ARGV: 1 agent id, 2 now (ISO), 3 status ('' keeps it; a stale agent that
 *       beats is active again), 4 load ('' keeps it), 5 load_metrics JSON ('' keeps it),
 *       6 task event channel (g is published when the status changes)
 * Returns the agent's status afterwards, or false when it is not registered.
 */
export const touchAgent = `${healthScore}
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local now = now_ms()
local before = redis.call('HGET', KEYS[1], 'status')
local status = ARGV[3]
if status == '' then
  status = before or 'active'
  if status == 'stale' then status = 'active' end
end
if status ~= before then redis.call('PUBLISH', ARGV[6], 'g') end
local load = ARGV[4]
if load == '' then load = redis.call('HGET', KEYS[1], 'load') or '0' end
redis.call('HSET', KEYS[1], 'status', status, 'load', load, 'health_score', health_score(status, load),
  'updated_at', ARGV[2], 'last_heartbeat', ARGV[2])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'load_metrics', ARGV[5]) end
index(KEYS[2], KEYS[3], KEYS[4], ARGV[1], status, now)
return status
`

/**
 * Marks agents unheard for staleAfterMs as stale and removes those unheard
 * for removeAfterMs. Whichever daemon runs it first does the work; the others
 * find nothing left to do, so each transition happens exactly once.
 * KEYS: 1 active set, 2 all set, 3 heartbeat zset, 4 push-agent set
 * ARGV: 1 staleAfterMs, 2 removeAfterMs, 3 agent key prefix, 4 now (ISO), 5 task event channel
 * Returns { ids marked stale, ids removed }; publishes g when there are any.
 */
export const sweepAgents = `${healthScore}
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[1]))
local marked, removed = {}, {}
for _, id in ipairs(ids) do
  local key = ARGV[3] .. id
  local last = tonumber(redis.call('ZSCORE', KEYS[3], id))
  if last <= now - tonumber(ARGV[2]) or redis.call('EXISTS', key) == 0 then
    redis.call('DEL', key)
    redis.call('SREM', KEYS[1], id)
    redis.call('SREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('SREM', KEYS[4], id)
    table.insert(removed, id)
  elseif redis.call('HGET', key, 'status') ~= 'stale' then
    redis.call('HSET', key, 'status', 'stale', 'health_score', health_score('stale', 0), 'updated_at', ARGV[4])
    redis.call('SREM', KEYS[1], id)
    table.insert(marked, id)
  end
end
if #marked + #removed > 0 then redis.call('PUBLISH', ARGV[5], 'g') end
return { marked, removed }
`
