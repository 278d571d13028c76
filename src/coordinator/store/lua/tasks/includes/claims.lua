--[[
  Claims: a task taken by an agent under a lease, the pull agent's next task,
  and the hand-off of a new task straight to a waiting poll.
]]
--- @include "tasks/includes/queues"

-- Gives a task (already off its queue) to an agent under a lease of its timeout;
-- known = {timeout_ms, submitted_ms, attempts} when the caller has them. Returns the lease end.
local function take(task_key, id, agent, agent_key, state, now, known)
  redis.call('HINCRBY', agent_key, 'in_flight', 1)
  redis.call('HINCRBY', agent_key, 'tasks_assigned', 1)
  local f = known or redis.call('HMGET', task_key, 'timeout_ms', 'submitted_ms', 'attempts')
  local attempts = tonumber(f[3] or '0') + 1
  local lease = now + tonumber(f[1])
  redis.call('HSET', task_key, 'state', state, 'agent_id', agent, 'assigned_ms', now, 'lease_until', lease, 'attempts', attempts)
  redis.call('ZADD', K.leases, lease, id)
  redis.call('HINCRBY', K.stats, 'assignments', 1)
  if attempts == 1 then
    redis.call('HINCRBY', K.stats, 'distributed', 1)
    local waited = now - tonumber(f[2])
    if waited ~= 0 then redis.call('HINCRBY', K.stats, 'distribution_ms', waited) end
  end
  return lease
end

-- What a claim needs to know of an agent. Capacity is the field the registry
-- derives from metadata.capacity when the agent registers.
local function profile(agent_key)
  local f = redis.call('HMGET', agent_key, 'status', 'in_flight', 'capacity', 'agent_type', 'capabilities', 'services', 'health_score')
  return { status = f[1], in_flight = tonumber(f[2] or '0') or 0, capacity = tonumber(f[3] or '') or DEFAULT_CAPACITY,
    agent_type = f[4], caps_raw = f[5], services_raw = f[6], health = tonumber(f[7] or '0') or 0 }
end
local function set_of(raw)
  local s = {}
  local ok, list = pcall(cjson.decode, raw or '[]')
  if ok and type(list) == 'table' then for _, v in ipairs(list) do s[tostring(v)] = true end end
  return s
end
local function has_all(have, wanted)
  if type(wanted) ~= 'table' then return true end
  for _, w in ipairs(wanted) do if not have[w] then return false end end
  return true
end
-- The same rule as strategies.ts eligible(), on a class's requirements.
local function eligible(a, req)
  if type(req.agent_type) == 'string' and req.agent_type ~= a.agent_type then return false end
  if type(req.min_health_score) == 'number' and a.health < req.min_health_score then return false end
  if type(req.capabilities) == 'table' and #req.capabilities > 0 then
    a.caps = a.caps or set_of(a.caps_raw)
    if not has_all(a.caps, req.capabilities) then return false end
  end
  if type(req.services) == 'table' and #req.services > 0 then
    a.services = a.services or set_of(a.services_raw)
    if not has_all(a.services, req.services) then return false end
  end
  return true
end

-- The highest-priority ready task of a class the agent can take (with aging,
-- long-waiting queues first, lowest first), claimed for it as running.
-- Returns its id or nil, and the classes the agent can and cannot take.
local function claim_direct(agent, agent_key, a, now)
  local can, cannot = { '' }, {}
  local classes = redis.call('HGETALL', K.classes)
  for i = 1, #classes, 2 do
    local ok, req = pcall(cjson.decode, classes[i + 1])
    if ok and type(req) == 'table' and eligible(a, req) then table.insert(can, classes[i])
    else table.insert(cannot, classes[i]) end
  end
  -- Most claims find nothing: one EXISTS over every queue the agent may take from says so.
  local queues = {}
  for _, p in ipairs(PRIORITIES) do
    for _, c in ipairs(can) do table.insert(queues, queue_key(p, c)) end
  end
  if redis.call('EXISTS', unpack(queues)) == 0 then return nil, can, cannot end
  for _ = 1, 10 do
    local best = {}
    for pi, p in ipairs(PRIORITIES) do
      for _, c in ipairs(can) do
        local qk = queue_key(p, c)
        local top = redis.call('ZRANGE', qk, 0, 0, 'WITHSCORES')
        if #top > 0 then
          local score = tonumber(top[2])
          if score <= now and (best[pi] == nil or score < best[pi].score) then
            best[pi] = { id = top[1], score = score, key = qk, class = c }
          end
        end
      end
    end
    local pick = nil
    if AGING >= 0 then
      for pi = #PRIORITIES, 1, -1 do
        if best[pi] and best[pi].score <= now - AGING then pick = best[pi] break end
      end
    end
    if not pick then for pi = 1, #PRIORITIES do if best[pi] then pick = best[pi] break end end end
    if not pick then return nil, can, cannot end
    redis.call('ZREM', pick.key, pick.id)
    if pick.class ~= '' and redis.call('ZCARD', pick.key) == 0 then drop_class_if_empty(pick.class) end
    local task_key = P.task .. pick.id
    if redis.call('HGET', task_key, 'state') == 'queued' then
      take(task_key, pick.id, agent, agent_key, 'running', now)
      return pick.id, can, cannot
    end
  end
  return nil, can, cannot
end

-- Pops the next task a distributor assigned to a pull agent and marks it
-- running; skips tasks taken back since (their lease ran out).
local function pull_next(agent)
  local list_key = P.pull .. agent
  while true do
    local id = redis.call('LPOP', list_key)
    if not id then return nil end
    local key = P.task .. id
    local f = redis.call('HMGET', key, 'state', 'agent_id')
    if f[1] == 'assigned' and f[2] == agent then
      redis.call('HSET', key, 'state', 'running')
      return id
    end
  end
end

local function flat_task(id)
  local out = { 'T' }
  for _, v in ipairs(redis.call('HGETALL', P.task .. id)) do table.insert(out, v) end
  return out
end

-- A task an agent takes ends any wait it was entered for (a poll that took it
-- after a wake-up, or an earlier poll's entry not yet expired): a submit must
-- not hand it another for a poll that has answered.
local function taken_by(agent, id)
  redis.call('ZREM', K.waiting, agent)
  return flat_task(id)
end

-- A pull agent's next task: one a distributor assigned to it, else, under
-- least_connections, the best ready task it can take, claimed in this call.
-- An agent that finds nothing and will wait (wait_ms > 0) is entered in the
-- waiting set with the daemon instance that holds its poll, so that a submit
-- can hand it the next task at once (see submitTask).
-- Returns {'T', field, value, ...} or {'N', why, in_flight, #can, can..., cannot...}
-- with why one of inactive, strategy (tasks come from a distributor), full, empty.
-- a: the agent's profile when the caller has just read it.
local function next_for(agent, wait_ms, instance, now, a)
  local id = pull_next(agent)
  if id then return taken_by(agent, id) end
  local agent_key = P.agent .. agent
  a = a or profile(agent_key)
  if a.status ~= 'active' then return { 'N', 'inactive', a.in_flight, 0 } end
  if (redis.call('GET', K.strategy) or DEFAULT_STRATEGY) ~= 'least_connections' then
    return { 'N', 'strategy', a.in_flight, 0 }
  end
  if a.in_flight >= a.capacity then return { 'N', 'full', a.in_flight, 0 } end
  now = now or now_ms()
  local got, can, cannot = claim_direct(agent, agent_key, a, now)
  if got then return taken_by(agent, got) end
  if wait_ms > 0 then
    redis.call('ZADD', K.waiting, now + wait_ms, agent)
    redis.call('HSET', K.waiting_at, agent, instance)
  end
  local out = { 'N', 'empty', a.in_flight, #can }
  for _, c in ipairs(can) do table.insert(out, c) end
  for _, c in ipairs(cannot) do table.insert(out, c) end
  return out
end

-- Under least_connections, a new task goes straight to a waiting pull agent
-- that can take it (of the first few waiting, the one with fewest in flight):
-- claimed as running, and sent (h|{instance}|{agent}|{task JSON}) on the
-- channel of the daemon holding the agent's poll only, which answers with it at once.
-- t: the new task's fields as stored. Returns the agent, or nil when none waits (the task is then queued).
local function hand_off(task_key, id, class, class_req, now, t)
  local waiting = redis.call('ZRANGEBYSCORE', K.waiting, now, '+inf', 'LIMIT', 0, 4)
  if #waiting == 0 then return nil end
  if (redis.call('GET', K.strategy) or DEFAULT_STRATEGY) ~= 'least_connections' then return nil end
  local req = nil
  if class ~= '' then
    local ok, r = pcall(cjson.decode, class_req)
    if not ok or type(r) ~= 'table' then return nil end
    req = r
  end
  local best, best_a = nil, nil
  for _, agent in ipairs(waiting) do
    local a = profile(P.agent .. agent)
    if a.status == 'active' and a.in_flight < a.capacity and (req == nil or eligible(a, req))
      and (best_a == nil or a.in_flight < best_a.in_flight) then
      best, best_a = agent, a
      -- None can have fewer.
      if a.in_flight == 0 then break end
    end
  end
  if not best then return nil end
  local instance = redis.call('HGET', K.waiting_at, best) or ''
  redis.call('ZREM', K.waiting, best)
  local lease = take(task_key, id, best, P.agent .. best, 'running', now, { t.timeout_ms, t.submitted_ms, '0' })
  t.state, t.agent_id, t.assigned_ms, t.lease_until, t.attempts = 'running', best, tostring(now), tostring(lease), '1'
  redis.call('PUBLISH', P.handoffs .. instance, 'h|' .. instance .. '|' .. best .. '|' .. cjson.encode(t))
  return best
end
