--[[
  Indexes every registered agent for discover, once: a registry made before
  the index existed gets it at the first start of a daemon that has it.
  Returns how many agents it indexed, or -1 when the index was built already.

  Input:
    KEYS[1] all set
    KEYS[2] health zset
    KEYS[3] index-built flag
    ARGV[1] agent key prefix
    ARGV[2..4] index prefixes (type, capability, service)
]]
--- @include "registry/includes/index"
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local ip = { ARGV[2], ARGV[3], ARGV[4] }
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. id
  local score = redis.call('HGET', key, 'health_score')
  if score then
    index_profile(key, id, ip)
    redis.call('ZADD', KEYS[2], -(tonumber(score) or 0), id)
    n = n + 1
  end
end
redis.call('SET', KEYS[3], '1')
return n
