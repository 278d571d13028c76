--[[
  Returns {1, id, priority, submitted ms} stored, {0, first id, its priority or '', its submitted ms or 0}
  for a repeated idempotency key, {-1} when the queue is full.

  Input (KEYS[1] is the leases key and ARGV[1] the settings, tasks/includes/layout):
    KEYS[2] task hash
    KEYS[3] idempotency key
    ARGV[2] id
    ARGV[3] "1" when an idempotency key is given
    ARGV[4] max queue size
    ARGV[5] priority
    ARGV[6] class
    ARGV[7] class requirements JSON
    ARGV[8..] field/value pairs
]]
--- @include "tasks/includes/claims"
use_settings(ARGV)
local id = ARGV[1]
if ARGV[2] == '1' then
  local first = redis.call('GET', KEYS[KS + 2])
  if first then
    local f = redis.call('HMGET', P.task .. first, 'priority', 'submitted_ms')
    return { 0, first, f[1] or '', f[2] or '0' }
  end
end
local priority, class, class_req = ARGV[4], ARGV[5], ARGV[6]
if redis.call('ZCARD', queue_key(priority, class)) >= tonumber(ARGV[3]) then return { -1 } end
local now = now_ms()
local task_key = KEYS[KS + 1]
local t = { submitted_ms = tostring(now), state = 'queued', attempts = '0' }
for i = 7, #ARGV - 1, 2 do t[ARGV[i]] = ARGV[i + 1] end
redis.call('HSET', task_key, 'submitted_ms', now, 'state', 'queued', 'attempts', 0, unpack(ARGV, 7))
if class ~= '' then
  redis.call('HSET', task_key, 'class', class, 'class_req', class_req)
  t.class, t.class_req = class, class_req
end
if ARGV[2] == '1' then redis.call('SET', KEYS[KS + 2], id, 'EX', 86400) end
redis.call('HINCRBY', K.stats, 'submitted', 1)
local agent = hand_off(task_key, id, class, class_req, now, t)
if not agent then enqueue(id, priority, class, class_req, now, now) end
return { 1, id, priority, tostring(now) }
