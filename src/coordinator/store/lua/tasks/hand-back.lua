--[[
  A task handed to an agent whose poll had ended before it arrived goes back
  to its queue as if never taken (the attempt is not counted). Returns OK, or
  GONE when the task has moved on (reported, or taken back) since.

  Input (KEYS[1] is the leases key and ARGV[1] the settings, tasks/includes/layout):
    KEYS[2] task hash
    ARGV[2] task id
    ARGV[3] agent id
]]
--- @include "tasks/includes/claims"
use_settings(ARGV)
local task_key, id, agent = KEYS[KS + 1], ARGV[1], ARGV[2]
local f = redis.call('HMGET', task_key, 'state', 'agent_id', 'attempts', 'priority', 'class', 'class_req', 'assigned_ms', 'submitted_ms')
if f[1] ~= 'running' or f[2] ~= agent then return 'GONE' end
give_back(task_key, id, P.agent .. agent, f, now_ms())
return 'OK'
