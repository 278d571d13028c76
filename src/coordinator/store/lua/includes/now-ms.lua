--[[
  The time from Redis itself, in ms: every daemon sharing Redis agrees on
  "now" whatever its own clock says.
]]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
