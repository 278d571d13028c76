--[[
  Every queued task of that priority, whatever its class, ends as failed with
  the reason (never silently dropped). Returns how many.

  Input (KEYS[1] is the leases key and ARGV[1] the settings, tasks/includes/layout):
    ARGV[2] priority
    ARGV[3] reason
]]
--- @include "tasks/includes/claims"
use_settings(ARGV)
local priority, reason = ARGV[1], ARGV[2]
local now = now_ms()
local classes = redis.call('HKEYS', K.classes)
table.insert(classes, '')
local n = 0
for _, c in ipairs(classes) do
  local qk = queue_key(priority, c)
  for _, id in ipairs(redis.call('ZRANGE', qk, 0, -1)) do
    local task_key = P.task .. id
    redis.call('HSET', task_key, 'state', 'failed', 'error', reason, 'finished_ms', now)
    retain('failed', task_key, id, now)
    n = n + 1
  end
  redis.call('DEL', qk)
  drop_class_if_empty(c)
end
redis.call('HINCRBY', K.stats, 'failed', n)
redis.call('HINCRBY', K.stats, 'cleared', n)
return n
