--[[
  A distributor's claim for one agent.
  Returns OK, TAKEN (another daemon or agent got it), AGENT_UNAVAILABLE (not active, or
  its push circuit is open) or AGENT_FULL.
  An open circuit whose probe time has come lets this one push through (half open);
  the push's outcome closes or reopens it (tasks/push-unreached, push-reached).

  Input (KEYS[1] is the leases key and ARGV[1] the settings, tasks/includes/layout):
    KEYS[2] task hash
    KEYS[3] agent hash
    ARGV[2] task id
    ARGV[3] agent id
    ARGV[4] "1" for a pull agent (the task goes to its pull list)
    ARGV[5] how long a push that probes an open circuit holds it half open (ms)
]]
--- @include "tasks/includes/claims"
use_settings(ARGV)
local task_key, agent_key, id, agent = KEYS[KS + 1], KEYS[KS + 2], ARGV[1], ARGV[2]
local f = redis.call('HMGET', task_key, 'state', 'priority', 'class')
if f[1] ~= 'queued' then return 'TAKEN' end
local a = profile(agent_key)
if a.status ~= 'active' then return 'AGENT_UNAVAILABLE' end
if a.in_flight >= a.capacity then return 'AGENT_FULL' end
local c = redis.call('HMGET', agent_key, 'circuit', 'circuit_probe_at')
local probe = false
if c[1] and c[1] ~= '' then
  if tonumber(c[2] or '0') > now_ms() then return 'AGENT_UNAVAILABLE' end
  probe = true
end
local qk = queue_key(f[2], f[3] or '')
if redis.call('ZREM', qk, id) == 0 then return 'TAKEN' end
if redis.call('ZCARD', qk) == 0 then drop_class_if_empty(f[3] or '') end
local now = now_ms()
if probe then
  redis.call('HSET', agent_key, 'circuit', 'half_open', 'circuit_probe_at', now + tonumber(ARGV[4] or '30000'))
  redis.call('HINCRBY', agent_key, 'rev', 1)
end
take(task_key, id, agent, agent_key, 'assigned', now)
if ARGV[3] == '1' then
  redis.call('RPUSH', P.pull .. agent, id)
  notify('a|' .. agent)
end
return 'OK'
