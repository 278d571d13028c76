--[[
  Health score: 1.0 is an active agent with no load. Status sets the ceiling,
  load (0-100, mean of cpu and memory percent) can take off up to half of it.
  An open push circuit (circuit: open or half_open, tasks/includes/circuits)
  makes it 0: the agent is not reached whatever it reports.
]]
local function health_score(status, load, circuit)
  if circuit and circuit ~= '' then return '0.000' end
  local base = { active = 1.0, busy = 0.5, maintenance = 0.2, inactive = 0.1, error = 0.0, stale = 0.0 }
  local b = base[status] or 0.0
  local score = b * (1 - (tonumber(load) or 0) / 200)
  return string.format('%.3f', score)
end
