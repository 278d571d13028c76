--[[
  Takes back tasks whose lease ran out ("expired": only those, found from the
  leases' lowest scores) or also those whose agent is stale, in error or gone
  ("all": after an agent changed).
  Returns {lowest lease end left or -1, ids taken back...}.

  Input (KEYS[1] is the leases key and ARGV[1] the settings, tasks/includes/layout):
    ARGV[2] expired|all
    ARGV[3] most tasks to look at
]]
--- @include "tasks/includes/claims"
use_settings(ARGV)
local mode, limit = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local ids
if mode == 'all' then ids = redis.call('ZRANGE', K.leases, 0, limit - 1)
else ids = redis.call('ZRANGEBYSCORE', K.leases, '-inf', now, 'LIMIT', 0, limit) end
local taken = {}
for _, id in ipairs(ids) do
  local task_key = P.task .. id
  local f = redis.call('HMGET', task_key, 'state', 'agent_id')
  if f[1] ~= 'assigned' and f[1] ~= 'running' then
    redis.call('ZREM', K.leases, id)
  else
    local agent = f[2] or ''
    local agent_key = P.agent .. agent
    local astatus = redis.call('HGET', agent_key, 'status')
    local reason = nil
    if tonumber(redis.call('ZSCORE', K.leases, id)) <= now then reason = 'lease expired on agent ' .. agent
    elseif not astatus then reason = 'agent ' .. agent .. ' was removed'
    elseif astatus == 'stale' or astatus == 'error' then reason = 'agent ' .. agent .. ' is ' .. astatus end
    if reason then
      redis.call('ZREM', K.leases, id)
      release_slot(agent_key)
      retry_or_dead(task_key, id, now, reason)
      table.insert(taken, id)
    end
  end
end
-- Waiting entries of polls that ended without saying so (a daemon that stopped).
local stale = redis.call('ZRANGEBYSCORE', K.waiting, '-inf', now - 1000, 'LIMIT', 0, 100)
if #stale > 0 then
  redis.call('ZREM', K.waiting, unpack(stale))
  redis.call('HDEL', K.waiting_at, unpack(stale))
end
local first = redis.call('ZRANGE', K.leases, 0, 0, 'WITHSCORES')
local out = { first[2] or '-1' }
for _, id in ipairs(taken) do table.insert(out, id) end
return out
