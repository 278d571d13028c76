--[[
  The inbox store of the messages that arrived together (a group commit).
  An entry is the authenticated sender and the id: a member that sends
  another's id first stores its own entry and suppresses nothing. Past the
  bounds the oldest entries are dropped (the inbox is a history nobody
  consumes; refusing new ones would let one flood close it for the retention).
  Returns {dropped, messages kept, bytes kept, then per message 1 stored | 0 duplicate}.

  Input:
    KEYS[1] inbox zset (entry -> received at)
    KEYS[2] inbox data hash (entry -> message JSON)
    KEYS[3] inbox bytes
    ARGV[1] drop entries received before this (ms)
    ARGV[2] most messages kept
    ARGV[3] most bytes kept, then per message: entry ("{sender}/{id}"), message JSON, received at (ms)
]]
local maxCount, maxBytes = tonumber(ARGV[2]), tonumber(ARGV[3])
local total = tonumber(redis.call('GET', KEYS[3]) or '-1')
if total < 0 then
  -- An inbox stored before its byte count was kept: count it once.
  total = 0
  for _, e in ipairs(redis.call('HKEYS', KEYS[2])) do total = total + redis.call('HSTRLEN', KEYS[2], e) end
end
local function drop(entries)
  for _, e in ipairs(entries) do total = total - redis.call('HSTRLEN', KEYS[2], e) end
  redis.call('ZREM', KEYS[1], unpack(entries))
  redis.call('HDEL', KEYS[2], unpack(entries))
end
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
if #old > 0 then drop(old) end
local out = {0, 0, 0}
for i = 4, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i])
    total = total + #ARGV[i + 1]
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
local count = redis.call('ZCARD', KEYS[1])
local dropped = 0
while count > maxCount or (total > maxBytes and count > 0) do
  local n = math.min(100, math.max(1, count - maxCount))
  local oldest = redis.call('ZRANGE', KEYS[1], 0, n - 1)
  drop(oldest)
  dropped = dropped + #oldest
  count = count - #oldest
end
redis.call('SET', KEYS[3], total)
out[1], out[2], out[3] = dropped, count, total
return out
