--[[
  A dead task goes back to its queue with fresh retries. Returns OK, NOT_FOUND or NOT_DEAD.

  Input (KEYS[1] is the leases key and ARGV[1] the settings, tasks/includes/layout):
    KEYS[2] task hash
    ARGV[2] task id
]]
--- @include "tasks/includes/claims"
use_settings(ARGV)
local task_key, id = KEYS[KS + 1], ARGV[1]
local f = redis.call('HMGET', task_key, 'state', 'priority', 'class', 'class_req')
if not f[1] then return 'NOT_FOUND' end
if f[1] ~= 'dead' then return 'NOT_DEAD' end
redis.call('PERSIST', task_key)
redis.call('HSET', task_key, 'state', 'queued', 'attempts', 0, 'finished_ms', '')
redis.call('ZREM', K.dead, id)
local now = now_ms()
enqueue(id, f[2], f[3] or '', f[4] or '', now, now)
return 'OK'
