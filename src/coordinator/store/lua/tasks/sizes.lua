--[[
  Returns the number of queued tasks of each priority (every class), in priority order.

  Input (KEYS[1] is the leases key and ARGV[1] the settings, tasks/includes/layout):
    (no keys or arguments of its own)
]]
--- @include "tasks/includes/claims"
use_settings(ARGV)
local classes = redis.call('HKEYS', K.classes)
table.insert(classes, '')
local out = {}
for _, p in ipairs(PRIORITIES) do
  local n = 0
  for _, c in ipairs(classes) do n = n + redis.call('ZCARD', queue_key(p, c)) end
  table.insert(out, n)
end
return out
