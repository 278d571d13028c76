--[[
  Heartbeat or status update.
  Returns the agent's status afterwards, or false when it is not registered.

  Input:
    KEYS[1] agent hash
    KEYS[2] active set
    KEYS[3] all set
    KEYS[4] heartbeat zset
    KEYS[5] health zset
    ARGV[1] agent id
    ARGV[2] now (ISO)
    ARGV[3] status ('' keeps it; a stale agent that beats is active again)
    ARGV[4] load ('' keeps it)
    ARGV[5] load_metrics JSON ('' keeps it)
    ARGV[6] task event channel (g is published when the status changes)
]]
--- @include "registry/includes/index"
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
local score = health_score(status, load, redis.call('HGET', KEYS[1], 'circuit'))
redis.call('HSET', KEYS[1], 'status', status, 'load', load, 'health_score', score,
  'updated_at', ARGV[2], 'last_heartbeat', ARGV[2])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'load_metrics', ARGV[5]) end
redis.call('HINCRBY', KEYS[1], 'rev', 1)
index(KEYS[2], KEYS[3], KEYS[4], ARGV[1], status, now)
redis.call('ZADD', KEYS[5], -tonumber(score), ARGV[1])
return status
