--[[
  The sender keeps at most ARGV[6] messages and ARGV[7] bytes: room is made by
  forgetting the oldest finished messages; queued ones are never dropped, so
  when they alone fill the bound the new message is refused.
  Returns {1 stored | 0 refused, messages kept, bytes kept}.

  Input:
    KEYS[1] message hash
    KEYS[2] sender's outbox set (queued)
    KEYS[3] sent zset (id -> created at)
    KEYS[4] sent sizes hash
    KEYS[5] sent bytes
    ARGV[1] message id
    ARGV[2] "1" when it has targets (something to deliver)
    ARGV[3] keep for (ms)
    ARGV[4] created at (ms)
    ARGV[5] bytes it counts
    ARGV[6] most messages kept
    ARGV[7] most bytes kept
    ARGV[8] message key prefix
    ARGV[9..] field/value pairs
]]
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
