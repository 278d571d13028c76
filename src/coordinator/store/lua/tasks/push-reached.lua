--[[
  A push the agent answered (whatever the answer): its failure run ends and an
  open circuit closes. With a task id and a note (an answer that failed the
  task), the note goes in the task's history.
  Returns "1" when the circuit closed now, else "0".

  Input (KEYS[1] is the leases key and ARGV[1] the settings, tasks/includes/layout):
    KEYS[2] agent hash
    KEYS[3] push-circuit set
    KEYS[4] health zset
    KEYS[5] task hash
    ARGV[2] agent id
    ARGV[3] note ('' for none)
]]
--- @include "tasks/includes/circuits"
use_settings(ARGV)
local agent_key, circuits, health, task_key = KEYS[KS + 1], KEYS[KS + 2], KEYS[KS + 3], KEYS[KS + 4]
local agent = ARGV[1]
if ARGV[2] ~= '' and redis.call('EXISTS', task_key) == 1 then add_history(task_key, now_ms(), ARGV[2]) end
if redis.call('EXISTS', agent_key) == 0 then return '0' end
local f = redis.call('HMGET', agent_key, 'circuit', 'push_failures')
if (f[1] or '') == '' and (f[2] or '0') == '0' then return '0' end
redis.call('HSET', agent_key, 'push_failures', 0)
redis.call('HDEL', agent_key, 'push_error')
local closed = '0'
if (f[1] or '') ~= '' then
  close_circuit(agent_key, agent, circuits, health)
  closed = '1'
end
redis.call('HINCRBY', agent_key, 'rev', 1)
return closed
