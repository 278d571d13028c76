--[[
  For a distributor: the tasks that may be assigned now, in serving order, as
  {next ready time or -1, then per task: priority, id, requirements JSON, submitted ms,
  JSON list of the agents a push of it failed to reach}.
  With aging, priorities whose oldest ready task waited longer come first, lowest first.

  Input (KEYS[1] is the leases key and ARGV[1] the settings, tasks/includes/layout):
    ARGV[2] most tasks per queue
]]
--- @include "tasks/includes/claims"
use_settings(ARGV)
local now = now_ms()
local limit = tonumber(ARGV[1])
local classes = redis.call('HKEYS', K.classes)
table.insert(classes, 1, '')
local per, oldest, next_at = {}, {}, -1
for pi, p in ipairs(PRIORITIES) do
  per[pi] = {}
  for _, c in ipairs(classes) do
    local qk = queue_key(p, c)
    local rows = redis.call('ZRANGEBYSCORE', qk, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
    for i = 1, #rows, 2 do
      local score = tonumber(rows[i + 1])
      table.insert(per[pi], { id = rows[i], score = score })
      if oldest[pi] == nil or score < oldest[pi] then oldest[pi] = score end
    end
    local later = redis.call('ZRANGEBYSCORE', qk, '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if #later > 0 and (next_at < 0 or tonumber(later[2]) < next_at) then next_at = tonumber(later[2]) end
  end
  table.sort(per[pi], function(x, y) return x.score < y.score end)
end
local order, seen = {}, {}
if AGING >= 0 then
  for pi = #PRIORITIES, 1, -1 do
    if oldest[pi] and oldest[pi] <= now - AGING then table.insert(order, pi) seen[pi] = true end
  end
end
for pi = 1, #PRIORITIES do if not seen[pi] then table.insert(order, pi) end end
local out = { tostring(next_at) }
for _, pi in ipairs(order) do
  for i = 1, math.min(#per[pi], limit) do
    local id = per[pi][i].id
    local f = redis.call('HMGET', P.task .. id, 'requirements', 'submitted_ms', 'push_avoid')
    if f[1] then
      table.insert(out, PRIORITIES[pi])
      table.insert(out, id)
      table.insert(out, f[1])
      table.insert(out, f[2] or '0')
      table.insert(out, f[3] or '[]')
    end
  end
end
return out
