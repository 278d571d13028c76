--[[
  What every task script runs with: the key layout and the per-call settings.

  The layout (redis-keys.ts, through TaskRepository) is JSON the loader writes
  in for '@layout' when it builds the library: no script spells a key name,
  and a call carries only its own keys. It is decoded at a library's first
  call, since cjson is not there while FUNCTION LOAD runs the library.

  Settings travel with each call, so one library text serves daemons with any
  retention, backoff, capacity, strategy or aging: ARGV[1] of every task
  script is "completed_ms completed_n failed_ms failed_n dead_ms dead_n
  backoff_ms default_capacity aging_ms default_strategy" (aging_ms -1: strict
  priority). use_settings(ARGV) takes it off, so a script's own arguments
  start at ARGV[1] after it.

  KEYS[1] of every call is the leases key (a Cluster routes the call by it);
  a script's own keys follow from KEYS[KS + 1].
]]
local KS = 1
local LAYOUT = '@layout'
local K, P, PRIORITIES
local KEEP, BACKOFF, DEFAULT_CAPACITY, AGING, DEFAULT_STRATEGY
-- The settings text last unpacked: a daemon sends the same one with every call, so it is read once.
local SETTINGS

local function use_settings(argv)
  if K == nil then
    local l = cjson.decode(LAYOUT)
    K, P, PRIORITIES = l.keys, l.prefixes, l.priorities
  end
  local text = table.remove(argv, 1)
  if text == SETTINGS then return end
  SETTINGS = text
  local s = {}
  for v in string.gmatch(text, '%S+') do s[#s + 1] = v end
  KEEP = {
    completed = { K.done_completed, tonumber(s[1]), tonumber(s[2]) },
    failed = { K.done_failed, tonumber(s[3]), tonumber(s[4]) },
    dead = { K.dead, tonumber(s[5]), tonumber(s[6]) },
  }
  BACKOFF, DEFAULT_CAPACITY, AGING, DEFAULT_STRATEGY = tonumber(s[7]), tonumber(s[8]), tonumber(s[9]), s[10]
end
