/**
 * Lua scripts of the task queues. Each is atomic and takes "now" from Redis
 * TIME, so any number of daemons on one Redis never assign a task twice and
 * agree on lease ends whatever their clocks say.
 */

const common = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function release_slot(agent_key)
  if redis.call('HINCRBY', agent_key, 'in_flight', -1) < 0 then redis.call('HSET', agent_key, 'in_flight', 0) end
end
-- Pops the agent's next assigned task and marks it running; skips tasks taken
-- back since (their lease ran out). Returns the task hash flattened, or {}.
local function pull_next(list_key, agent, prefix)
  while true do
    local id = redis.call('LPOP', list_key)
    if not id then return {} end
    local key = prefix .. 'task:' .. id
    if redis.call('HGET', key, 'state') == 'assigned' and redis.call('HGET', key, 'agent_id') == agent then
      redis.call('HSET', key, 'state', 'running')
      return redis.call('HGETALL', key)
    end
  end
end
-- Back to its queue after a backoff, or to the dead letters once retries are spent.
local function retry_or_dead(task_key, id, queue_key, dead_key, stats_key, now, backoff, reason)
  local attempts = tonumber(redis.call('HGET', task_key, 'attempts') or '0')
  local max = tonumber(redis.call('HGET', task_key, 'max_retries') or '0')
  if attempts > max then
    redis.call('HSET', task_key, 'state', 'dead', 'error', reason, 'finished_ms', now, 'agent_id', '')
    redis.call('ZADD', dead_key, now, id)
    redis.call('HINCRBY', stats_key, 'dead', 1)
    return 'DEAD'
  end
  redis.call('HSET', task_key, 'state', 'queued', 'error', reason, 'agent_id', '')
  redis.call('ZADD', queue_key, now + backoff * attempts, id)
  redis.call('HINCRBY', stats_key, 'retried', 1)
  return 'REQUEUED'
end
`

/**
 * KEYS: 1 task hash, 2 priority queue, 3 idempotency key, 4 stats hash
 * ARGV: 1 task id, 2 "1" when an idempotency key is given, 3 max queue size, 4.. field/value pairs
 * The fields start with task_id, id, priority, p: ARGV[7] is the priority returned for a new task.
 * Returns {1, id, priority, submitted ms} stored, {0, first id, its priority, its submitted ms} for a
 * repeated idempotency key, {-1} when the queue is full.
 */
export const submitTask = `${common}
if ARGV[2] == '1' then
  local first = redis.call('GET', KEYS[3])
  if first then
    local f = redis.call('HMGET', string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1]) .. first, 'priority', 'submitted_ms')
    return {0, first, f[1] or '', f[2] or '0'}
  end
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return {-1} end
local now = now_ms()
redis.call('HSET', KEYS[1], 'submitted_ms', now, 'state', 'queued', 'attempts', 0, unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], now, ARGV[1])
if ARGV[2] == '1' then redis.call('SET', KEYS[3], ARGV[1], 'EX', 86400) end
redis.call('HINCRBY', KEYS[4], 'submitted', 1)
return {1, ARGV[1], ARGV[7], tostring(now)}
`

/**
 * KEYS: 1 task hash, 2 its queue, 3 agent hash, 4 leases, 5 stats, 6 agent's pull list
 * ARGV: 1 task id, 2 agent id, 3 agent capacity, 4 "1" for a pull agent
 * Returns OK, TAKEN (another daemon got it), AGENT_UNAVAILABLE or AGENT_FULL.
 */
export const assignTask = `${common}
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 'TAKEN' end
if redis.call('HGET', KEYS[3], 'status') ~= 'active' then return 'AGENT_UNAVAILABLE' end
if tonumber(redis.call('HGET', KEYS[3], 'in_flight') or '0') >= tonumber(ARGV[3]) then return 'AGENT_FULL' end
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 'TAKEN' end
local now = now_ms()
redis.call('HINCRBY', KEYS[3], 'in_flight', 1)
redis.call('HINCRBY', KEYS[3], 'tasks_assigned', 1)
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local lease = now + tonumber(redis.call('HGET', KEYS[1], 'timeout_ms'))
redis.call('HSET', KEYS[1], 'state', 'assigned', 'agent_id', ARGV[2], 'assigned_ms', now, 'lease_until', lease)
redis.call('ZADD', KEYS[4], lease, ARGV[1])
if ARGV[4] == '1' then redis.call('RPUSH', KEYS[6], ARGV[1]) end
redis.call('HINCRBY', KEYS[5], 'assignments', 1)
if attempts == 1 then
  redis.call('HINCRBY', KEYS[5], 'distributed', 1)
  redis.call('HINCRBY', KEYS[5], 'distribution_ms', now - tonumber(redis.call('HGET', KEYS[1], 'submitted_ms')))
end
return 'OK'
`

/**
 * KEYS: 1 task hash, 2 agent hash, 3 leases, 4 stats, 5 dead letters, 6 the agent's pull list
 * ARGV: 1 task id, 2 agent id, 3 outcome (running|completed|completed+next|failed|retry), 4 result or error,
 *       5 retry backoff ms, 6 key prefix
 * Returns OK, DEAD/REQUEUED for a retry, for completed+next the agent's next task (flattened hash, {} if none),
 * or why nothing changed:
 * NOT_FOUND, ALREADY_COMPLETED/FAILED/DEAD, NOT_ASSIGNED (its lease ran out), WRONG_AGENT.
 */
export const finishTask = `${common}
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'NOT_FOUND' end
if state == 'completed' or state == 'failed' or state == 'dead' then return 'ALREADY_' .. string.upper(state) end
if state == 'queued' then return 'NOT_ASSIGNED' end
if redis.call('HGET', KEYS[1], 'agent_id') ~= ARGV[2] then return 'WRONG_AGENT' end
local now = now_ms()
if ARGV[3] == 'running' then
  redis.call('HSET', KEYS[1], 'state', 'running')
  return 'OK'
end
release_slot(KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[3] == 'completed' then
  redis.call('HSET', KEYS[1], 'state', 'completed', 'result', ARGV[4], 'finished_ms', now)
  redis.call('HINCRBY', KEYS[4], 'completed', 1)
  redis.call('HINCRBY', KEYS[2], 'tasks_completed', 1)
  return 'OK'
end
if ARGV[3] == 'completed+next' then
  redis.call('HSET', KEYS[1], 'state', 'completed', 'result', ARGV[4], 'finished_ms', now)
  redis.call('HINCRBY', KEYS[4], 'completed', 1)
  redis.call('HINCRBY', KEYS[2], 'tasks_completed', 1)
  return pull_next(KEYS[6], ARGV[2], ARGV[6])
end
if ARGV[3] == 'failed' then
  redis.call('HSET', KEYS[1], 'state', 'failed', 'error', ARGV[4], 'finished_ms', now)
  redis.call('HINCRBY', KEYS[4], 'failed', 1)
  return 'OK'
end
local queue_key = ARGV[6] .. 'tasks:queue:' .. redis.call('HGET', KEYS[1], 'priority')
return retry_or_dead(KEYS[1], ARGV[1], queue_key, KEYS[5], KEYS[4], now, tonumber(ARGV[5]), ARGV[4])
`

/**
 * KEYS: 1 agent's pull list
 * ARGV: 1 agent id, 2 key prefix
 * Pops the agent's next assigned task, marks it running and returns its hash
 * as a flat list; skips tasks taken back since (lease ran out). {} when none.
 */
export const pullTask = `${common}
return pull_next(KEYS[1], ARGV[1], ARGV[2])
`

/**
 * KEYS: 1 leases, 2 stats, 3 dead letters
 * ARGV: 1 key prefix, 2 retry backoff ms, 3 most tasks to look at
 * Takes back tasks whose lease ran out or whose agent is stale, in error or gone.
 * Returns the ids taken back.
 */
export const reclaimTasks = `${common}
local now = now_ms()
local out = {}
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
for _, id in ipairs(ids) do
  local task_key = ARGV[1] .. 'task:' .. id
  local state = redis.call('HGET', task_key, 'state')
  if state ~= 'assigned' and state ~= 'running' then
    redis.call('ZREM', KEYS[1], id)
  else
    local agent = redis.call('HGET', task_key, 'agent_id')
    local agent_key = ARGV[1] .. 'agent:' .. agent
    local astatus = redis.call('HGET', agent_key, 'status')
    local reason = nil
    if tonumber(redis.call('ZSCORE', KEYS[1], id)) <= now then reason = 'lease expired on agent ' .. agent
    elseif not astatus then reason = 'agent ' .. agent .. ' was removed'
    elseif astatus == 'stale' or astatus == 'error' then reason = 'agent ' .. agent .. ' is ' .. astatus end
    if reason then
      redis.call('ZREM', KEYS[1], id)
      release_slot(agent_key)
      local queue_key = ARGV[1] .. 'tasks:queue:' .. redis.call('HGET', task_key, 'priority')
      retry_or_dead(task_key, id, queue_key, KEYS[3], KEYS[2], now, tonumber(ARGV[2]), reason)
      table.insert(out, id)
    end
  end
end
return out
`

/**
 * KEYS: 1 task hash, 2 dead letters, 3 its queue
 * ARGV: 1 task id
 * A dead task goes back to its queue with fresh retries. Returns OK, NOT_FOUND or NOT_DEAD.
 */
export const requeueTask = `${common}
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'NOT_FOUND' end
if state ~= 'dead' then return 'NOT_DEAD' end
redis.call('HSET', KEYS[1], 'state', 'queued', 'attempts', 0, 'finished_ms', '')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], now_ms(), ARGV[1])
return 'OK'
`

/**
 * KEYS: 1 queue, 2 stats
 * ARGV: 1 key prefix, 2 reason
 * Every queued task of the queue ends as failed with the reason (never silently dropped). Returns how many.
 */
export const clearQueue = `${common}
local now = now_ms()
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do
  redis.call('HSET', ARGV[1] .. 'task:' .. id, 'state', 'failed', 'error', ARGV[2], 'finished_ms', now)
end
redis.call('DEL', KEYS[1])
redis.call('HINCRBY', KEYS[2], 'failed', #ids)
redis.call('HINCRBY', KEYS[2], 'cleared', #ids)
return #ids
`

/**
 * KEYS: the five priority queues, highest first
 * ARGV: 1 key prefix, 2 most tasks per queue, 3 aging ms (-1: strict priority)
 * Returns the tasks that may be assigned now, in serving order, as a flat list
 * of priority, id, requirements JSON, submitted ms. With aging, queues whose
 * oldest ready task waited longer than the aging time come first, lowest first.
 */
export const readyTasks = `${common}
local now = now_ms()
local names = { 'urgent', 'critical', 'high', 'normal', 'low' }
local order = {}
local aging = tonumber(ARGV[3])
if aging >= 0 then
  for i = #KEYS, 1, -1 do
    local oldest = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', now - aging, 'LIMIT', 0, 1)
    if #oldest > 0 then table.insert(order, i) end
  end
end
for i = 1, #KEYS do
  local seen = false
  for _, j in ipairs(order) do if j == i then seen = true end end
  if not seen then table.insert(order, i) end
end
local out = {}
for _, i in ipairs(order) do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', ARGV[1] .. 'task:' .. id, 'requirements', 'submitted_ms')
    if f[1] then
      table.insert(out, names[i])
      table.insert(out, id)
      table.insert(out, f[1])
      table.insert(out, f[2] or '0')
    end
  end
end
return out
`
