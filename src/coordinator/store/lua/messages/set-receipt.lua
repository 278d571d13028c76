--[[
  A final receipt never changes again; the message leaves the outbox when its
  last target's receipt is final. Returns 0 when the message is unknown.

  Input:
    KEYS[1] message hash
    KEYS[2] sender's outbox set
    ARGV[1] target
    ARGV[2] receipt JSON
    ARGV[3] "1" when the receipt is final
    ARGV[4] message id
    ARGV[5] retention ms
]]
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
