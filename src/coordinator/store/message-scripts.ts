/** Lua scripts of the message store; each runs atomically in Redis. */

/**
 * KEYS: 1 message hash, 2 sender's outbox set (queued), 3 sent zset (id -> created at), 4 sent sizes hash, 5 sent bytes
 * ARGV: 1 message id, 2 "1" when it has targets (something to deliver), 3 keep for (ms), 4 created at (ms),
 *       5 bytes it counts, 6 most messages kept, 7 most bytes kept, 8 message key prefix, 9.. field/value pairs
 * The sender keeps at most ARGV[6] messages and ARGV[7] bytes: room is made by
 * forgetting the oldest finished messages; queued ones are never dropped, so
 * when they alone fill the bound the new message is refused.
 * Returns {1 stored | 0 refused, messages kept, bytes kept}.
 */
export const saveOutgoing = `
local size, maxCount, maxBytes = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local total = tonumber(redis.call('GET', KEYS[5]) or '0')
local count = redis.call('ZCARD', KEYS[3])
local function over() return count + 1 > maxCount or total + size > maxBytes end
if over() then
  if redis.call('SCARD', KEYS[2]) >= maxCount then return {0, count, total} end
  local queued = 0
  while over() do
    local batch = redis.call('ZRANGE', KEYS[3], queued, queued + 99)
    if #batch == 0 then break end
    for _, id in ipairs(batch) do
      if not over() then break end
      if redis.call('SISMEMBER', KEYS[2], id) == 1 then
        queued = queued + 1
      else
        total = total - tonumber(redis.call('HGET', KEYS[4], id) or '0')
        count = count - 1
        redis.call('ZREM', KEYS[3], id)
        redis.call('HDEL', KEYS[4], id)
        redis.call('DEL', ARGV[8] .. id)
      end
    end
  end
  redis.call('SET', KEYS[5], total)
  if over() then return {0, count, total} end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if ARGV[2] == '1' then redis.call('SADD', KEYS[2], ARGV[1]) end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], size)
redis.call('SET', KEYS[5], total + size)
return {1, count + 1, total + size}
`

/**
 * KEYS: 1 message hash, 2 sender's outbox set
 * ARGV: 1 target, 2 receipt JSON, 3 "1" when the receipt is final, 4 message id, 5 retention ms
 * A final receipt never changes again; the message leaves the outbox when its
 * last target's receipt is final. Returns 0 when the message is unknown.
 */
export const setReceipt = `
local field = 'r:' .. ARGV[1]
local old = redis.call('HGET', KEYS[1], field)
if not old then return 0 end
if cjson.decode(old).state ~= 'queued' then return 1 end
redis.call('HSET', KEYS[1], field, ARGV[2])
if ARGV[3] == '1' then
  local open = redis.call('HINCRBY', KEYS[1], 'open', -1)
  if open <= 0 then
    redis.call('SREM', KEYS[2], ARGV[4])
    redis.call('PEXPIRE', KEYS[1], ARGV[5])
  end
end
return 1
`

/**
 * The inbox store of the messages that arrived together (a group commit).
 * KEYS: 1 inbox zset (entry -> received at), 2 inbox data hash (entry -> message JSON), 3 inbox bytes
 * ARGV: 1 drop entries received before this (ms), 2 most messages kept, 3 most bytes kept,
 *       then per message: entry ("{sender}/{id}"), message JSON, received at (ms)
 * An entry is the authenticated sender and the id: a member that sends
 * another's id first stores its own entry and suppresses nothing. Past the
 * bounds the oldest entries are dropped (the inbox is a history nobody
 * consumes; refusing new ones would let one flood close it for the retention).
 * Returns {dropped, messages kept, bytes kept, then per message 1 stored | 0 duplicate}.
 */
export const acceptInbound = `
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
`
