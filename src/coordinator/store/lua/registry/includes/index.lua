--[[
  The registry's indexes: the active, all and heartbeat sets of an agent, and
  discover's sets by type, capability and service.
]]
--- @include "includes/health-score"
--- @include "includes/now-ms"
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
