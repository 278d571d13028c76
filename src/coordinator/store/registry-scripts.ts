/**
 * Lua scripts of the agent registry. Each runs atomically in Redis and takes
 * the time from Redis itself, so every daemon sharing the registry agrees on
 * "now" whatever its own clock says.
 */

// Health score: 1.0 is an active agent with no load. Status sets the ceiling,
// load (0-100, mean of cpu and memory percent) can take off up to half of it.
// An open push circuit (circuit: open or half_open, tasks/push-scripts.ts) makes it 0:
// the agent is not reached whatever it reports.
export const healthScoreFunction = `
local function health_score(status, load, circuit)
  if circuit and circuit ~= '' then return '0.000' end
  local base = { active = 1.0, busy = 0.5, maintenance = 0.2, inactive = 0.1, error = 0.0, stale = 0.0 }
  local b = base[status] or 0.0
  local score = b * (1 - (tonumber(load) or 0) / 200)
  return string.format('%.3f', score)
end
`
const healthScore = `${healthScoreFunction}
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function index(key_active, key_all, key_hb, id, status, now)
  if status == 'active' then redis.call('SADD', key_active, id) else redis.call('SREM', key_active, id) end
  redis.call('SADD', key_all, id)
  redis.call('ZADD', key_hb, now, id)
end
-- Discover's index: the sets an agent hash belongs to, by type, capability and
-- service (ip: the three key prefixes, redis-keys.ts agentIndexPrefixes).
local function profile_sets(key, ip)
  local f = redis.call('HMGET', key, 'agent_type', 'capabilities', 'services')
  local out = {}
  if f[1] and f[1] ~= '' then table.insert(out, ip[1] .. f[1]) end
  for i, prefix in ipairs({ ip[2], ip[3] }) do
    local ok, list = pcall(cjson.decode, f[i + 1] or '[]')
    if ok and type(list) == 'table' then
      for _, v in ipairs(list) do table.insert(out, prefix .. tostring(v)) end
    end
  end
  return out
end
local function unindex_profile(key, id, ip)
  for _, k in ipairs(profile_sets(key, ip)) do redis.call('SREM', k, id) end
end
local function index_profile(key, id, ip)
  for _, k in ipairs(profile_sets(key, ip)) do redis.call('SADD', k, id) end
end
`

/**
 * KEYS: 1 agent hash, 2 active set, 3 all set, 4 heartbeat zset, 5 push-agent set, 6 health zset
 * ARGV: 1 agent id, 2 now (ISO), 3 status, 4 load, 5 "1" when tasks are pushed to it, 6 task event channel,
 *       7-9 index prefixes (type, capability, service), 10.. field/value pairs
 * Returns the first registration time (kept across re-registrations). Tells
 * every daemon's distributor that the agents changed (g on the channel).
 */
export const registerAgent = `${healthScore}
local now = now_ms()
local ip = { ARGV[7], ARGV[8], ARGV[9] }
-- A re-registration may change type, capabilities or services: out of the old sets first.
unindex_profile(KEYS[1], ARGV[1], ip)
redis.call('HSETNX', KEYS[1], 'registered_at', ARGV[2])
-- New endpoints: the push circuit of the old ones says nothing of them.
for i = 10, #ARGV - 1, 2 do
  if ARGV[i] == 'endpoints' and ARGV[i + 1] ~= redis.call('HGET', KEYS[1], 'endpoints') then
    redis.call('HDEL', KEYS[1], 'circuit', 'circuit_since', 'circuit_probe_at', 'circuit_opens', 'push_failures', 'push_error')
  end
end
local score = health_score(ARGV[3], ARGV[4], redis.call('HGET', KEYS[1], 'circuit'))
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'load', ARGV[4], 'health_score', score,
  'updated_at', ARGV[2], 'last_heartbeat', ARGV[2], unpack(ARGV, 10))
redis.call('HINCRBY', KEYS[1], 'rev', 1)
index(KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[3], now)
index_profile(KEYS[1], ARGV[1], ip)
redis.call('ZADD', KEYS[6], -tonumber(score), ARGV[1])
if ARGV[5] == '1' then redis.call('SADD', KEYS[5], ARGV[1]) else redis.call('SREM', KEYS[5], ARGV[1]) end
redis.call('PUBLISH', ARGV[6], 'g')
return redis.call('HGET', KEYS[1], 'registered_at')
`

/**
 * Heartbeat or status update.
 * KEYS: 1 agent hash, 2 active set, 3 all set, 4 heartbeat zset, 5 health zset
 * ARGV: 1 agent id, 2 now (ISO), 3 status ('' keeps it; a stale agent that
 *       beats is active again), 4 load ('' keeps it), 5 load_metrics JSON ('' keeps it),
 *       6 task event channel (g is published when the status changes)
 * Returns the agent's status afterwards, or false when it is not registered.
 */
export const touchAgent = `${healthScore}
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local now = now_ms()
local before = redis.call('HGET', KEYS[1], 'status')
local status = ARGV[3]
if status == '' then
  status = before or 'active'
  if status == 'stale' then status = 'active' end
end
if status ~= before then redis.call('PUBLISH', ARGV[6], 'g') end
local load = ARGV[4]
if load == '' then load = redis.call('HGET', KEYS[1], 'load') or '0' end
local score = health_score(status, load, redis.call('HGET', KEYS[1], 'circuit'))
redis.call('HSET', KEYS[1], 'status', status, 'load', load, 'health_score', score,
  'updated_at', ARGV[2], 'last_heartbeat', ARGV[2])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'load_metrics', ARGV[5]) end
redis.call('HINCRBY', KEYS[1], 'rev', 1)
index(KEYS[2], KEYS[3], KEYS[4], ARGV[1], status, now)
redis.call('ZADD', KEYS[5], -tonumber(score), ARGV[1])
return status
`

/**
 * Marks agents unheard for staleAfterMs as stale and removes those unheard
 * for removeAfterMs. Whichever daemon runs it first does the work; the others
 * find nothing left to do, so each transition happens exactly once.
 * KEYS: 1 active set, 2 all set, 3 heartbeat zset, 4 push-agent set, 5 health zset
 * ARGV: 1 staleAfterMs, 2 removeAfterMs, 3 agent key prefix, 4 now (ISO), 5 task event channel,
 *       6-8 index prefixes (type, capability, service)
 * Returns { ids marked stale, ids removed }; publishes g when there are any.
 */
export const sweepAgents = `${healthScore}
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[1]))
local marked, removed = {}, {}
local ip = { ARGV[6], ARGV[7], ARGV[8] }
for _, id in ipairs(ids) do
  local key = ARGV[3] .. id
  local last = tonumber(redis.call('ZSCORE', KEYS[3], id))
  if last <= now - tonumber(ARGV[2]) or redis.call('EXISTS', key) == 0 then
    unindex_profile(key, id, ip)
    redis.call('ZREM', KEYS[5], id)
    redis.call('DEL', key)
    redis.call('SREM', KEYS[1], id)
    redis.call('SREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('SREM', KEYS[4], id)
    table.insert(removed, id)
  elseif redis.call('HGET', key, 'status') ~= 'stale' then
    local score = health_score('stale', 0)
    redis.call('HSET', key, 'status', 'stale', 'health_score', score, 'updated_at', ARGV[4])
    redis.call('HINCRBY', key, 'rev', 1)
    redis.call('ZADD', KEYS[5], -tonumber(score), id)
    redis.call('SREM', KEYS[1], id)
    table.insert(marked, id)
  end
end
if #marked + #removed > 0 then redis.call('PUBLISH', ARGV[5], 'g') end
return { marked, removed }
`

/**
 * Removes an agent and every index entry of it, in one step (no daemon ever
 * sees the hash gone but the id still indexed).
 * KEYS: 1 agent hash, 2 active set, 3 all set, 4 heartbeat zset, 5 push-agent set, 6 health zset
 * ARGV: 1 agent id, 2 task event channel, 3-5 index prefixes (type, capability, service)
 * Returns 1, or 0 when there was no such agent.
 */
export const removeAgent = `${healthScore}
local id = ARGV[1]
unindex_profile(KEYS[1], id, { ARGV[3], ARGV[4], ARGV[5] })
local existed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], id)
redis.call('SREM', KEYS[3], id)
redis.call('ZREM', KEYS[4], id)
redis.call('SREM', KEYS[5], id)
redis.call('ZREM', KEYS[6], id)
redis.call('PUBLISH', ARGV[2], 'g')
return existed
`

/**
 * Indexes every registered agent for discover, once: a registry made before
 * the index existed gets it at the first start of a daemon that has it.
 * KEYS: 1 all set, 2 health zset, 3 index-built flag
 * ARGV: 1 agent key prefix, 2-4 index prefixes (type, capability, service)
 * Returns how many agents it indexed, or -1 when the index was built already.
 */
export const buildAgentIndex = `${healthScore}
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local ip = { ARGV[2], ARGV[3], ARGV[4] }
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. id
  local score = redis.call('HGET', key, 'health_score')
  if score then
    index_profile(key, id, ip)
    redis.call('ZADD', KEYS[2], -(tonumber(score) or 0), id)
    n = n + 1
  end
end
redis.call('SET', KEYS[3], '1')
return n
`

/**
 * Discover's candidates in answer order (healthiest first, ties by id): the
 * members of every given set, at least the given health. The health zset
 * holds minus the score, so its ascending order is the answer's order. When
 * a filter set is small (beside what a walk would read) ZINTER ranks its
 * members against the zset; otherwise the zset is walked from the top a page
 * at a time, each page checked against every set with one SMISMEMBER each.
 * Each candidate comes with its hash's revision (bumped by every script that
 * changes what the API shows of an agent, so a daemon re-reads only agents it
 * has not parsed at that revision) and its tasks in flight (kept by the task
 * scripts, which do not bump the revision).
 * KEYS: 1 health zset, 2.. the sets (the first: all agents or the active ones)
 * ARGV: 1 minimum health score, 2 how many to return, 3 how many qualifying ones to skip first, 4 agent key prefix
 * Returns id, revision (false when the hash is gone), in flight, for each candidate in order.
 */
export const discoverCandidates = `
local min, want, skip = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local function with_revisions(ids)
  local out = {}
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', ARGV[4] .. id, 'rev', 'in_flight')
    table.insert(out, id)
    table.insert(out, f[1])
    table.insert(out, f[2] or '0')
  end
  return out
end
local total = redis.call('ZCARD', KEYS[1])
local smallest, size, fewest = nil, nil, total
for i = 2, #KEYS do
  local n = redis.call('SCARD', KEYS[i])
  if n < fewest then fewest = n end
  if i > 2 and (size == nil or n < size) then smallest, size = KEYS[i], n end
end
-- A walk's page: enough of the zset for the answer if members of the smallest set are spread
-- evenly through it (a quarter more), so one page usually does.
local page = math.min(1000, math.max(want + skip, math.ceil((want + skip) * total / math.max(fewest, 1) * 1.25)))
local out = {}
-- A filter set small beside what walking the zset would read (about (want + skip) * total / size ids)
-- is intersected with the zset by ZINTER, which answers in the zset's order (score, then id).
if smallest ~= nil and (size <= 64 or size * size <= 4 * (want + skip) * total) then
  local args = { 'ZINTER', #KEYS }
  for i = 1, #KEYS do table.insert(args, KEYS[i]) end
  table.insert(args, 'WEIGHTS')
  table.insert(args, 1)
  for i = 2, #KEYS do table.insert(args, 0) end
  table.insert(args, 'WITHSCORES')
  local ranked = redis.call(unpack(args))
  local seen = 0
  for i = 1, #ranked, 2 do
    -- Ascending scores: once one is below the minimum health, so are the rest.
    if -tonumber(ranked[i + 1]) < min or #out >= want then break end
    seen = seen + 1
    if seen > skip then table.insert(out, ranked[i]) end
  end
  return with_revisions(out)
end
local offset, seen = 0, 0
while #out < want do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', -min, 'LIMIT', offset, page)
  if #ids == 0 then break end
  local keep = {}
  for i = 1, #ids do keep[i] = true end
  for k = 2, #KEYS do
    local member = redis.call('SMISMEMBER', KEYS[k], unpack(ids))
    for i = 1, #ids do if member[i] == 0 then keep[i] = false end end
  end
  for i, id in ipairs(ids) do
    if keep[i] then
      seen = seen + 1
      if seen > skip and #out < want then table.insert(out, id) end
    end
  end
  offset = offset + #ids
end
return with_revisions(out)
`
