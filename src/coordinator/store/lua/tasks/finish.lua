--[[
  Returns OK, DEAD/REQUEUED for a retry, for completed+next what next_for returns, or why nothing
  changed: NOT_FOUND, ALREADY_COMPLETED/FAILED/DEAD, NOT_ASSIGNED (its lease ran out), WRONG_AGENT.

  Input (KEYS[1] is the leases key and ARGV[1] the settings, tasks/includes/layout):
    KEYS[2] task hash
    ARGV[2] task id
    ARGV[3] agent id
    ARGV[4] outcome (running|completed|completed+next|failed|retry)
    ARGV[5] result or error; for completed+next also how long the agent will wait when there is nothing (ms) and this daemon's instance
]]
--- @include "tasks/includes/claims"
use_settings(ARGV)
local task_key, id, agent, outcome = KEYS[KS + 1], ARGV[1], ARGV[2], ARGV[3]
local f = redis.call('HMGET', task_key, 'state', 'agent_id')
local state = f[1]
if not state then return 'NOT_FOUND' end
if state == 'completed' or state == 'failed' or state == 'dead' then return 'ALREADY_' .. string.upper(state) end
if state == 'queued' then return 'NOT_ASSIGNED' end
if f[2] ~= agent then return 'WRONG_AGENT' end
local agent_key = P.agent .. agent
-- The agent answered: a run of pushes that never reached it is over (whichever daemon counted them).
local function answered()
  local pf = redis.call('HMGET', agent_key, 'push_failures', 'circuit')
  if pf[1] and pf[1] ~= '0' and (pf[2] or '') == '' then redis.call('HSET', agent_key, 'push_failures', 0) end
end
if outcome == 'running' then
  redis.call('HSET', task_key, 'state', 'running')
  answered()
  return 'OK'
end
local now = now_ms()
-- completed+next reads the agent's profile once, for the release and the next claim.
local a = nil
if outcome == 'completed+next' then a = profile(agent_key) end
release_slot(agent_key, a)
redis.call('ZREM', K.leases, id)
if outcome == 'completed' or outcome == 'completed+next' then
  redis.call('HSET', task_key, 'state', 'completed', 'result', ARGV[4], 'finished_ms', now)
  redis.call('HINCRBY', K.stats, 'completed', 1)
  redis.call('HINCRBY', agent_key, 'tasks_completed', 1)
  answered()
  retain('completed', task_key, id, now)
  if outcome == 'completed+next' then return next_for(agent, tonumber(ARGV[5] or '0') or 0, ARGV[6] or '', now, a) end
  return 'OK'
end
if outcome == 'failed' then
  redis.call('HSET', task_key, 'state', 'failed', 'error', ARGV[4], 'finished_ms', now)
  redis.call('HINCRBY', K.stats, 'failed', 1)
  retain('failed', task_key, id, now)
  return 'OK'
end
return retry_or_dead(task_key, id, now, ARGV[4])
