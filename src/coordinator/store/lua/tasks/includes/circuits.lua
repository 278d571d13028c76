--[[
  Push delivery's circuit. An agent hash carries it: `push_failures` (pushes
  in a row that never reached it), `push_error`, and while not closed
  `circuit` (open or half_open), `circuit_since`, `circuit_probe_at` (ms) and
  `circuit_opens` (how many times in a row, for the backoff). While open its
  health score is 0 and no claim takes it (tasks/assign) until
  circuit_probe_at; then one push tries it (half open) and its outcome closes
  or reopens the circuit.
]]
--- @include "tasks/includes/queues"
--- @include "includes/health-score"
local function open_circuit(agent_key, agent, circuits, health, now, probe_ms, max_probe_ms)
  local opens = redis.call('HINCRBY', agent_key, 'circuit_opens', 1)
  local wait = math.min(max_probe_ms, probe_ms * 2 ^ math.min(opens - 1, 30))
  if (redis.call('HGET', agent_key, 'circuit') or '') == '' then
    redis.call('HSET', agent_key, 'circuit_since', now)
    redis.call('HINCRBY', K.stats, 'circuits_opened', 1)
  end
  redis.call('HSET', agent_key, 'circuit', 'open', 'circuit_probe_at', now + wait, 'health_score', '0.000')
  redis.call('ZADD', health, 0, agent)
  redis.call('SADD', circuits, agent)
  notify('g')
end
local function close_circuit(agent_key, agent, circuits, health)
  redis.call('HDEL', agent_key, 'circuit', 'circuit_since', 'circuit_probe_at', 'circuit_opens')
  local f = redis.call('HMGET', agent_key, 'status', 'load')
  local score = health_score(f[1] or 'error', f[2] or '0', '')
  redis.call('HSET', agent_key, 'health_score', score)
  redis.call('ZADD', health, -tonumber(score), agent)
  redis.call('SREM', circuits, agent)
  redis.call('HINCRBY', K.stats, 'circuits_closed', 1)
  notify('g')
end
