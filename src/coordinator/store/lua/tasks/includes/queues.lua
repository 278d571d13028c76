--[[
  Queues, retention and history of the task scripts.

  Queues are ZSETs per priority and requirement class ("may be assigned at",
  ms), so an agent looks only at the queues of classes it can take, never at
  every queued task. Every change that makes work ready is announced on the
  event channel: `r|{class}` ready now, `d|{ms}` ready at that time,
  `a|{agent}` assigned to that pull agent by a distributor.
]]
--- @include "tasks/includes/layout"
--- @include "includes/now-ms"

local function queue_key(priority, class)
  if class == nil or class == '' then return P.queue .. priority end
  return P.queue .. priority .. P.sep .. class
end
local function notify(msg) redis.call('PUBLISH', P.channel, msg) end
-- Frees one of the agent's slots (never below 0; nothing for an agent that is gone).
-- a: its profile when the caller has read it (kept up to date).
local function release_slot(agent_key, a)
  if a then
    if not a.status then return end
  elseif redis.call('HEXISTS', agent_key, 'agent_id') == 0 then return end
  local n = redis.call('HINCRBY', agent_key, 'in_flight', -1)
  if n < 0 then
    redis.call('HSET', agent_key, 'in_flight', 0)
    n = 0
  end
  if a then a.in_flight = n end
end

-- Indexes a finished task by its end and trims the index by age and count;
-- a trimmed task's hash goes with it (the hash also expires by itself).
local function retain(kind, task_key, id, now)
  local index, keep_ms, keep_n = KEEP[kind][1], KEEP[kind][2], KEEP[kind][3]
  redis.call('ZADD', index, now, id)
  redis.call('PEXPIRE', task_key, keep_ms)
  local gone = redis.call('ZRANGEBYSCORE', index, '-inf', now - keep_ms, 'LIMIT', 0, 50)
  local n = redis.call('ZCARD', index) - #gone
  if n > keep_n then
    local extra = redis.call('ZRANGE', index, #gone, #gone + math.min(n - keep_n, 50) - 1)
    for _, x in ipairs(extra) do table.insert(gone, x) end
  end
  if #gone > 0 then
    for _, x in ipairs(gone) do redis.call('DEL', P.task .. x) end
    redis.call('ZREM', index, unpack(gone))
    redis.call('HINCRBY', K.stats, 'expired', #gone)
  end
end

-- Queues a task now or at a later time, and tells every daemon.
local function enqueue(id, priority, class, class_req, at, now)
  if class ~= '' then redis.call('HSET', K.classes, class, class_req) end
  redis.call('ZADD', queue_key(priority, class), at, id)
  if at <= now then notify('r|' .. class) else notify('d|' .. at) end
end

-- A task its agent never started goes back to its queue as if never taken: the attempt is not
-- counted, the agent's slot and the distribution stats are given back. f holds the task's
-- state, agent_id, attempts, priority, class, class_req, assigned_ms, submitted_ms; more
-- field/value pairs for the task hash may follow. Returns the attempts left counted.
local function give_back(task_key, id, agent_key, f, now, ...)
  local attempts = tonumber(f[3] or '1') - 1
  release_slot(agent_key)
  redis.call('HINCRBY', agent_key, 'tasks_assigned', -1)
  redis.call('ZREM', K.leases, id)
  redis.call('HSET', task_key, 'state', 'queued', 'agent_id', '', 'attempts', attempts, 'assigned_ms', '', 'lease_until', '', ...)
  redis.call('HINCRBY', K.stats, 'assignments', -1)
  if attempts == 0 then
    redis.call('HINCRBY', K.stats, 'distributed', -1)
    redis.call('HINCRBY', K.stats, 'distribution_ms', tonumber(f[8] or '0') - tonumber(f[7] or '0'))
  end
  enqueue(id, f[4], f[5] or '', f[6] or '', now, now)
  return attempts
end

-- A class whose queues are all empty leaves the index (it comes back with its next task).
local function drop_class_if_empty(class)
  if class == nil or class == '' then return end
  for _, p in ipairs(PRIORITIES) do
    if redis.call('ZCARD', queue_key(p, class)) > 0 then return end
  end
  redis.call('HDEL', K.classes, class)
end

-- Adds a line to a task's history (the newest HISTORY_MAX kept): what happened besides its state.
local HISTORY_MAX = 20
local function add_history(task_key, now, text)
  local ok, h = pcall(cjson.decode, redis.call('HGET', task_key, 'history') or '[]')
  if not ok or type(h) ~= 'table' then h = {} end
  table.insert(h, { at = now, event = text })
  while #h > HISTORY_MAX do table.remove(h, 1) end
  redis.call('HSET', task_key, 'history', cjson.encode(h))
end

-- Back to its queue after a backoff, or to the dead letters once retries are spent.
local function retry_or_dead(task_key, id, now, reason)
  local f = redis.call('HMGET', task_key, 'attempts', 'max_retries', 'priority', 'class', 'class_req')
  local attempts = tonumber(f[1] or '0')
  if attempts > tonumber(f[2] or '0') then
    redis.call('HSET', task_key, 'state', 'dead', 'error', reason, 'finished_ms', now, 'agent_id', '')
    redis.call('HINCRBY', K.stats, 'dead', 1)
    retain('dead', task_key, id, now)
    return 'DEAD'
  end
  redis.call('HSET', task_key, 'state', 'queued', 'error', reason, 'agent_id', '')
  enqueue(id, f[3], f[4] or '', f[5] or '', now + BACKOFF * attempts, now)
  redis.call('HINCRBY', K.stats, 'retried', 1)
  return 'REQUEUED'
end

