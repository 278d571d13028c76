--[[
  Removes an agent and every index entry of it, in one step (no daemon ever
  sees the hash gone but the id still indexed).
  Returns 1, or 0 when there was no such agent.

  Input:
    KEYS[1] agent hash
    KEYS[2] active set
    KEYS[3] all set
    KEYS[4] heartbeat zset
    KEYS[5] push-agent set
    KEYS[6] health zset
    ARGV[1] agent id
    ARGV[2] task event channel
    ARGV[3..5] index prefixes (type, capability, service)
]]
--- @include "registry/includes/index"
local id = ARGV[1]
unindex_profile(KEYS[1], id, { ARGV[3], ARGV[4], ARGV[5] })
local existed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], id)
redis.call('SREM', KEYS[3], id)
redis.call('ZREM', KEYS[4], id)
redis.call('SREM', KEYS[5], id)
redis.call('ZREM', KEYS[6], id)
redis.call('PUBLISH', ARGV[2], 'g')
return existed
