import { healthScoreFunction } from './registry-scripts.js'

/**
 * Lua bodies of push delivery's circuit, run after the task scripts' head
 * (scripts.ts header(): KS, K, P, now_ms, release_slot, enqueue, give_back, add_history).
 *
 * An agent hash carries its circuit: `push_failures` (pushes in a row that
 * never reached it), `push_error`, and while not closed `circuit` (open or
 * half_open), `circuit_since`, `circuit_probe_at` (ms) and `circuit_opens`
 * (how many times in a row, for the backoff). While open its health score is
 * 0 and no claim takes it (assignTask) until circuit_probe_at; then one push
 * tries it (half open) and its outcome closes or reopens the circuit.
 */

const circuitFunctions = `${healthScoreFunction}
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
`

/**
 * A push that never reached the agent.
 * KEYS: task hash, agent hash, push-circuit set, health zset
 * ARGV: task id, agent id, why, failures that open the circuit, first probe after (ms), longest probe backoff (ms)
 * The task, still assigned to that agent, goes back to its queue at once with
 * its attempt not counted and the agent added to its push_avoid list (the
 * distributor tries other agents first); the agent's failure run grows and
 * opens (or, for a probe, reopens) its circuit. Both go in the task's history.
 * Returns {REQUEUED or GONE (the task moved on), "1" when the circuit opened now or again, failures in a row}.
 */
export const pushUnreached = `${circuitFunctions}
local task_key, agent_key, circuits, health = KEYS[KS + 1], KEYS[KS + 2], KEYS[KS + 3], KEYS[KS + 4]
local id, agent, why = ARGV[1], ARGV[2], ARGV[3]
local now = now_ms()
local failures, opened = 0, false
if redis.call('EXISTS', agent_key) == 1 then
  failures = redis.call('HINCRBY', agent_key, 'push_failures', 1)
  redis.call('HSET', agent_key, 'push_error', why)
  local c = redis.call('HGET', agent_key, 'circuit') or ''
  if c == 'half_open' or (c == '' and failures >= tonumber(ARGV[4])) then
    open_circuit(agent_key, agent, circuits, health, now, tonumber(ARGV[5]), tonumber(ARGV[6]))
    opened = true
  end
  redis.call('HINCRBY', agent_key, 'rev', 1)
end
redis.call('HINCRBY', K.stats, 'push_unreached', 1)
local f = redis.call('HMGET', task_key, 'state', 'agent_id', 'attempts', 'priority', 'class', 'class_req', 'assigned_ms',
  'submitted_ms', 'push_avoid')
local out = 'GONE'
local note = 'push to ' .. agent .. ' failed: ' .. why
if f[1] == 'assigned' and f[2] == agent then
  local ok, avoid = pcall(cjson.decode, f[9] or '[]')
  if not ok or type(avoid) ~= 'table' then avoid = {} end
  local seen = false
  for _, x in ipairs(avoid) do if x == agent then seen = true end end
  if not seen then table.insert(avoid, agent) end
  while #avoid > 16 do table.remove(avoid, 1) end
  give_back(task_key, id, agent_key, f, now, 'push_avoid', cjson.encode(avoid))
  note = note .. '; not counted as an attempt'
  out = 'REQUEUED'
end
if opened then note = note .. '; circuit opened (' .. failures .. ' in a row)' end
if f[1] then add_history(task_key, now, note) end
return { out, opened and '1' or '0', tostring(failures) }
`

/**
 * A push the agent answered (whatever the answer): its failure run ends and an
 * open circuit closes. With a task id and a note (an answer that failed the
 * task), the note goes in the task's history.
 * KEYS: agent hash, push-circuit set, health zset, task hash
 * ARGV: agent id, note ('' for none)
 * Returns "1" when the circuit closed now, else "0".
 */
export const pushReached = `${circuitFunctions}
local agent_key, circuits, health, task_key = KEYS[KS + 1], KEYS[KS + 2], KEYS[KS + 3], KEYS[KS + 4]
local agent = ARGV[1]
if ARGV[2] ~= '' and redis.call('EXISTS', task_key) == 1 then add_history(task_key, now_ms(), ARGV[2]) end
if redis.call('EXISTS', agent_key) == 0 then return '0' end
local f = redis.call('HMGET', agent_key, 'circuit', 'push_failures')
if (f[1] or '') == '' and (f[2] or '0') == '0' then return '0' end
redis.call('HSET', agent_key, 'push_failures', 0)
redis.call('HDEL', agent_key, 'push_error')
local closed = '0'
if (f[1] or '') ~= '' then
  close_circuit(agent_key, agent, circuits, health)
  closed = '1'
end
redis.call('HINCRBY', agent_key, 'rev', 1)
return closed
`
