--[[
  Discover's candidates in answer order (healthiest first, ties by id): the
  members of every given set, at least the given health. The health zset
  holds minus the score, so its ascending order is the answer's order. When
  a filter set is small (beside what a walk would read) ZINTER ranks its
  members against the zset; otherwise the zset is walked from the top a page
  at a time, each page checked against every set with one SMISMEMBER each.
  Each candidate comes with its hash's revision (bumped by every script that
  changes what the API shows of an agent, so a daemon re-reads only agents it
  has not parsed at that revision) and its tasks in flight (kept by the task
  scripts, which do not bump the revision).
  Returns id, revision (false when the hash is gone), in flight, for each candidate in order.

  Input:
    KEYS[1] health zset
    KEYS[2..] the sets (the first: all agents or the active ones)
    ARGV[1] minimum health score
    ARGV[2] how many to return
    ARGV[3] how many qualifying ones to skip first
    ARGV[4] agent key prefix
]]
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
