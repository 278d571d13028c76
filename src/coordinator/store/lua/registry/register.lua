--[[
  Returns the first registration time (kept across re-registrations). Tells
  every daemon's distributor that the agents changed (g on the channel).

  Input:
    KEYS[1] agent hash
    KEYS[2] active set
    KEYS[3] all set
    KEYS[4] heartbeat zset
    KEYS[5] push-agent set
    KEYS[6] health zset
    ARGV[1] agent id
    ARGV[2] now (ISO)
    ARGV[3] status
    ARGV[4] load
    ARGV[5] "1" when tasks are pushed to it
    ARGV[6] task event channel
    ARGV[7..9] index prefixes (type, capability, service)
    ARGV[10..] field/value pairs
]]
--- @include "registry/includes/index"
local now = now_ms()
local ip = { ARGV[7], ARGV[8], ARGV[9] }
-- A re-registration may change type, capabilities or services: out of the old sets first.
unindex_profile(KEYS[1], ARGV[1], ip)
redis.call('HSETNX', KEYS[1], 'registered_at', ARGV[2])
-- New endpoints: the push circuit of the old ones says nothing of them.
for i = 10, #ARGV - 1, 2 do
  if ARGV[i] == 'endpoints' and ARGV[i + 1] ~= redis.call('HGET', KEYS[1], 'endpoints') then
    redis.call('HDEL', KEYS[1], 'circuit', 'circuit_since', 'circuit_probe_at', 'circuit_opens', 'push_failures', 'push_error')
  end
end
local score = health_score(ARGV[3], ARGV[4], redis.call('HGET', KEYS[1], 'circuit'))
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'load', ARGV[4], 'health_score', score,
  'updated_at', ARGV[2], 'last_heartbeat', ARGV[2], unpack(ARGV, 10))
redis.call('HINCRBY', KEYS[1], 'rev', 1)
index(KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[3], now)
index_profile(KEYS[1], ARGV[1], ip)
redis.call('ZADD', KEYS[6], -tonumber(score), ARGV[1])
if ARGV[5] == '1' then redis.call('SADD', KEYS[5], ARGV[1]) else redis.call('SREM', KEYS[5], ARGV[1]) end
redis.call('PUBLISH', ARGV[6], 'g')
return redis.call('HGET', KEYS[1], 'registered_at')
