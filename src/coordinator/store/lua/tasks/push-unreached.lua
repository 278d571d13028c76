--[[
  A push that never reached the agent.
  The task, still assigned to that agent, goes back to its queue at once with
  its attempt not counted and the agent added to its push_avoid list (the
  distributor tries other agents first); the agent's failure run grows and
  opens (or, for a probe, reopens) its circuit. Both go in the task's history.
  Returns {REQUEUED or GONE (the task moved on), "1" when the circuit opened now or again, failures in a row}.

  Input (KEYS[1] is the leases key and ARGV[1] the settings, tasks/includes/layout):
    KEYS[2] task hash
    KEYS[3] agent hash
    KEYS[4] push-circuit set
    KEYS[5] health zset
    ARGV[2] task id
    ARGV[3] agent id
    ARGV[4] why
    ARGV[5] failures that open the circuit
    ARGV[6] first probe after (ms)
    ARGV[7] longest probe backoff (ms)
]]
--- @include "tasks/includes/circuits"
use_settings(ARGV)
local task_key, agent_key, circuits, health = KEYS[KS + 1], KEYS[KS + 2], KEYS[KS + 3], KEYS[KS + 4]
local id, agent, why = ARGV[1], ARGV[2], ARGV[3]
local now = now_ms()
local failures, opened = 0, false
if redis.call('EXISTS', agent_key) == 1 then
  failures = redis.call('HINCRBY', agent_key, 'push_failures', 1)
  redis.call('HSET', agent_key, 'push_error', why)
  local c = redis.call('HGET', agent_key, 'circuit') or ''
  if c == 'half_open' or (c == '' and failures >= tonumber(ARGV[4])) then
    open_circuit(agent_key, agent, circuits, health, now, tonumber(ARGV[5]), tonumber(ARGV[6]))
    opened = true
  end
  redis.call('HINCRBY', agent_key, 'rev', 1)
end
redis.call('HINCRBY', K.stats, 'push_unreached', 1)
local f = redis.call('HMGET', task_key, 'state', 'agent_id', 'attempts', 'priority', 'class', 'class_req', 'assigned_ms',
  'submitted_ms', 'push_avoid')
local out = 'GONE'
local note = 'push to ' .. agent .. ' failed: ' .. why
if f[1] == 'assigned' and f[2] == agent then
  local ok, avoid = pcall(cjson.decode, f[9] or '[]')
  if not ok or type(avoid) ~= 'table' then avoid = {} end
  local seen = false
  for _, x in ipairs(avoid) do if x == agent then seen = true end end
  if not seen then table.insert(avoid, agent) end
  while #avoid > 16 do table.remove(avoid, 1) end
  give_back(task_key, id, agent_key, f, now, 'push_avoid', cjson.encode(avoid))
  note = note .. '; not counted as an attempt'
  out = 'REQUEUED'
end
if opened then note = note .. '; circuit opened (' .. failures .. ' in a row)' end
if f[1] then add_history(task_key, now, note) end
return { out, opened and '1' or '0', tostring(failures) }
