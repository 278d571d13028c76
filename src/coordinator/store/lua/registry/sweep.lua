--[[
  Marks agents unheard for staleAfterMs as stale and removes those unheard
  for removeAfterMs. Whichever daemon runs it first does the work; the others
  find nothing left to do, so each transition happens exactly once.
  Returns { ids marked stale, ids removed }; publishes g when there are any.

  Input:
    KEYS[1] active set
    KEYS[2] all set
    KEYS[3] heartbeat zset
    KEYS[4] push-agent set
    KEYS[5] health zset
    ARGV[1] staleAfterMs
    ARGV[2] removeAfterMs
    ARGV[3] agent key prefix
    ARGV[4] now (ISO)
    ARGV[5] task event channel
    ARGV[6..8] index prefixes (type, capability, service)
]]
--- @include "registry/includes/index"
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[1]))
local marked, removed = {}, {}
local ip = { ARGV[6], ARGV[7], ARGV[8] }
for _, id in ipairs(ids) do
  local key = ARGV[3] .. id
  local last = tonumber(redis.call('ZSCORE', KEYS[3], id))
  if last <= now - tonumber(ARGV[2]) or redis.call('EXISTS', key) == 0 then
    unindex_profile(key, id, ip)
    redis.call('ZREM', KEYS[5], id)
    redis.call('DEL', key)
    redis.call('SREM', KEYS[1], id)
    redis.call('SREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('SREM', KEYS[4], id)
    table.insert(removed, id)
  elseif redis.call('HGET', key, 'status') ~= 'stale' then
    local score = health_score('stale', 0)
    redis.call('HSET', key, 'status', 'stale', 'health_score', score, 'updated_at', ARGV[4])
    redis.call('HINCRBY', key, 'rev', 1)
    redis.call('ZADD', KEYS[5], -tonumber(score), id)
    redis.call('SREM', KEYS[1], id)
    table.insert(marked, id)
  end
end
if #marked + #removed > 0 then redis.call('PUBLISH', ARGV[5], 'g') end
return { marked, removed }
