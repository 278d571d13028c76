/**
 * Lua scripts of the task queues. Each is atomic and takes "now" from Redis
 * TIME, so any number of daemons on one Redis never assign a task twice and
 * agree on lease ends whatever their clocks say.
 *
 * No script spells the key layout: the shared head (header()) is built from
 * a ScriptLayout that task-repository.ts makes from redis-keys.ts and the
 * settings, written as Lua literals, so a call carries only its own keys and
 * arguments. Each exported script is a body that runs after that head;
 * task-functions.ts loads head and bodies as one function library (or, where
 * Redis has no functions, sends each body with the head).
 *
 * Queues are ZSETs per priority and requirement class ("may be assigned at",
 * ms), so an agent looks only at the queues of classes it can take, never at
 * every queued task. Every change that makes work ready is announced on the
 * event channel: `r|{class}` ready now, `d|{ms}` ready at that time,
 * `a|{agent}` assigned to that pull agent by a distributor.
 */

/** What every script is built with: the key layout (from redis-keys.ts) and the settings. */
export interface ScriptLayout {
  keys: Record<'leases' | 'stats' | 'dead' | 'classes' | 'doneCompleted' | 'doneFailed' | 'strategy' | 'waiting' | 'waitingAt', string>
  prefixes: Record<'task' | 'queue' | 'classSeparator' | 'agent' | 'pull', string>
  channel: string
  /** Before a daemon instance's id: the channel of the hand-offs to its polls. */
  handOffs: string
  priorities: readonly string[]
  keep: { completed: [number, number], failed: [number, number], dead: [number, number] }
  backoffMs: number
  defaultCapacity: number
  defaultStrategy: string
  agingMs: number
}

/** A Lua string literal of any text (every byte outside a safe set written as \ddd). */
function lua(text: string): string {
  let out = '\''
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9 _:.{}@#$%^&*()+=,;<>/?|~!-]/.test(c) ? c : `\\${String(byte).padStart(3, '0')}`
  }
  return `${out}'`
}

const num = (n: number): string => {
  if (!Number.isFinite(n)) throw new Error(`not a number: ${n}`)
  return String(n)
}

/**
 * The common head of every script: the layout as Lua literals (so a call
 * carries only its own keys and arguments), and the shared functions.
 * KEYS[1] of every call is the leases key (a Cluster routes the call by it);
 * a script's own keys follow from KEYS[KS + 1], its arguments from ARGV[1].
 */
export function header(l: ScriptLayout): string {
  const k = l.keys
  const p = l.prefixes
  return `
local KS = 1
local K = { leases = ${lua(k.leases)}, stats = ${lua(k.stats)}, dead = ${lua(k.dead)}, classes = ${lua(k.classes)},
  done_completed = ${lua(k.doneCompleted)}, done_failed = ${lua(k.doneFailed)}, strategy = ${lua(k.strategy)},
  waiting = ${lua(k.waiting)}, waiting_at = ${lua(k.waitingAt)} }
local P = { task = ${lua(p.task)}, queue = ${lua(p.queue)}, sep = ${lua(p.classSeparator)}, agent = ${lua(p.agent)},
  pull = ${lua(p.pull)}, channel = ${lua(l.channel)}, handoffs = ${lua(l.handOffs)} }
local PRIORITIES = { ${l.priorities.map(lua).join(', ')} }
local KEEP = {
  completed = { K.done_completed, ${num(l.keep.completed[0])}, ${num(l.keep.completed[1])} },
  failed = { K.done_failed, ${num(l.keep.failed[0])}, ${num(l.keep.failed[1])} },
  dead = { K.dead, ${num(l.keep.dead[0])}, ${num(l.keep.dead[1])} },
}
local BACKOFF = ${num(l.backoffMs)}
local DEFAULT_CAPACITY = ${num(l.defaultCapacity)}
local DEFAULT_STRATEGY = ${lua(l.defaultStrategy)}
local AGING = ${num(l.agingMs)}

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function queue_key(priority, class)
  if class == nil or class == '' then return P.queue .. priority end
  return P.queue .. priority .. P.sep .. class
end
local function notify(msg) redis.call('PUBLISH', P.channel, msg) end
-- Frees one of the agent's slots (never below 0; nothing for an agent that is gone).
-- a: its profile when the caller has read it (kept up to date).
local function release_slot(agent_key, a)
  if a then
    if not a.status then return end
  elseif redis.call('HEXISTS', agent_key, 'agent_id') == 0 then return end
  local n = redis.call('HINCRBY', agent_key, 'in_flight', -1)
  if n < 0 then
    redis.call('HSET', agent_key, 'in_flight', 0)
    n = 0
  end
  if a then a.in_flight = n end
end

-- Indexes a finished task by its end and trims the index by age and count;
-- a trimmed task's hash goes with it (the hash also expires by itself).
local function retain(kind, task_key, id, now)
  local index, keep_ms, keep_n = KEEP[kind][1], KEEP[kind][2], KEEP[kind][3]
  redis.call('ZADD', index, now, id)
  redis.call('PEXPIRE', task_key, keep_ms)
  local gone = redis.call('ZRANGEBYSCORE', index, '-inf', now - keep_ms, 'LIMIT', 0, 50)
  local n = redis.call('ZCARD', index) - #gone
  if n > keep_n then
    local extra = redis.call('ZRANGE', index, #gone, #gone + math.min(n - keep_n, 50) - 1)
    for _, x in ipairs(extra) do table.insert(gone, x) end
  end
  if #gone > 0 then
    for _, x in ipairs(gone) do redis.call('DEL', P.task .. x) end
    redis.call('ZREM', index, unpack(gone))
    redis.call('HINCRBY', K.stats, 'expired', #gone)
  end
end

-- Queues a task now or at a later time, and tells every daemon.
local function enqueue(id, priority, class, class_req, at, now)
  if class ~= '' then redis.call('HSET', K.classes, class, class_req) end
  redis.call('ZADD', queue_key(priority, class), at, id)
  if at <= now then notify('r|' .. class) else notify('d|' .. at) end
end

-- A task its agent never started goes back to its queue as if never taken: the attempt is not
-- counted, the agent's slot and the distribution stats are given back. f holds the task's
-- state, agent_id, attempts, priority, class, class_req, assigned_ms, submitted_ms; more
-- field/value pairs for the task hash may follow. Returns the attempts left counted.
local function give_back(task_key, id, agent_key, f, now, ...)
  local attempts = tonumber(f[3] or '1') - 1
  release_slot(agent_key)
  redis.call('HINCRBY', agent_key, 'tasks_assigned', -1)
  redis.call('ZREM', K.leases, id)
  redis.call('HSET', task_key, 'state', 'queued', 'agent_id', '', 'attempts', attempts, 'assigned_ms', '', 'lease_until', '', ...)
  redis.call('HINCRBY', K.stats, 'assignments', -1)
  if attempts == 0 then
    redis.call('HINCRBY', K.stats, 'distributed', -1)
    redis.call('HINCRBY', K.stats, 'distribution_ms', tonumber(f[8] or '0') - tonumber(f[7] or '0'))
  end
  enqueue(id, f[4], f[5] or '', f[6] or '', now, now)
  return attempts
end

-- A class whose queues are all empty leaves the index (it comes back with its next task).
local function drop_class_if_empty(class)
  if class == nil or class == '' then return end
  for _, p in ipairs(PRIORITIES) do
    if redis.call('ZCARD', queue_key(p, class)) > 0 then return end
  end
  redis.call('HDEL', K.classes, class)
end

-- Adds a line to a task's history (the newest HISTORY_MAX kept): what happened besides its state.
local HISTORY_MAX = 20
local function add_history(task_key, now, text)
  local ok, h = pcall(cjson.decode, redis.call('HGET', task_key, 'history') or '[]')
  if not ok or type(h) ~= 'table' then h = {} end
  table.insert(h, { at = now, event = text })
  while #h > HISTORY_MAX do table.remove(h, 1) end
  redis.call('HSET', task_key, 'history', cjson.encode(h))
end

-- Back to its queue after a backoff, or to the dead letters once retries are spent.
local function retry_or_dead(task_key, id, now, reason)
  local f = redis.call('HMGET', task_key, 'attempts', 'max_retries', 'priority', 'class', 'class_req')
  local attempts = tonumber(f[1] or '0')
  if attempts > tonumber(f[2] or '0') then
    redis.call('HSET', task_key, 'state', 'dead', 'error', reason, 'finished_ms', now, 'agent_id', '')
    redis.call('HINCRBY', K.stats, 'dead', 1)
    retain('dead', task_key, id, now)
    return 'DEAD'
  end
  redis.call('HSET', task_key, 'state', 'queued', 'error', reason, 'agent_id', '')
  enqueue(id, f[3], f[4] or '', f[5] or '', now + BACKOFF * attempts, now)
  redis.call('HINCRBY', K.stats, 'retried', 1)
  return 'REQUEUED'
end

-- Gives a task (already off its queue) to an agent under a lease of its timeout;
-- known = {timeout_ms, submitted_ms, attempts} when the caller has them. Returns the lease end.
local function take(task_key, id, agent, agent_key, state, now, known)
  redis.call('HINCRBY', agent_key, 'in_flight', 1)
  redis.call('HINCRBY', agent_key, 'tasks_assigned', 1)
  local f = known or redis.call('HMGET', task_key, 'timeout_ms', 'submitted_ms', 'attempts')
  local attempts = tonumber(f[3] or '0') + 1
  local lease = now + tonumber(f[1])
  redis.call('HSET', task_key, 'state', state, 'agent_id', agent, 'assigned_ms', now, 'lease_until', lease, 'attempts', attempts)
  redis.call('ZADD', K.leases, lease, id)
  redis.call('HINCRBY', K.stats, 'assignments', 1)
  if attempts == 1 then
    redis.call('HINCRBY', K.stats, 'distributed', 1)
    local waited = now - tonumber(f[2])
    if waited ~= 0 then redis.call('HINCRBY', K.stats, 'distribution_ms', waited) end
  end
  return lease
end

-- What a claim needs to know of an agent. Capacity is the field the registry
-- derives from metadata.capacity when the agent registers.
local function profile(agent_key)
  local f = redis.call('HMGET', agent_key, 'status', 'in_flight', 'capacity', 'agent_type', 'capabilities', 'services', 'health_score')
  return { status = f[1], in_flight = tonumber(f[2] or '0') or 0, capacity = tonumber(f[3] or '') or DEFAULT_CAPACITY,
    agent_type = f[4], caps_raw = f[5], services_raw = f[6], health = tonumber(f[7] or '0') or 0 }
end
local function set_of(raw)
  local s = {}
  local ok, list = pcall(cjson.decode, raw or '[]')
  if ok and type(list) == 'table' then for _, v in ipairs(list) do s[tostring(v)] = true end end
  return s
end
local function has_all(have, wanted)
  if type(wanted) ~= 'table' then return true end
  for _, w in ipairs(wanted) do if not have[w] then return false end end
  return true
end
-- The same rule as strategies.ts eligible(), on a class's requirements.
local function eligible(a, req)
  if type(req.agent_type) == 'string' and req.agent_type ~= a.agent_type then return false end
  if type(req.min_health_score) == 'number' and a.health < req.min_health_score then return false end
  if type(req.capabilities) == 'table' and #req.capabilities > 0 then
    a.caps = a.caps or set_of(a.caps_raw)
    if not has_all(a.caps, req.capabilities) then return false end
  end
  if type(req.services) == 'table' and #req.services > 0 then
    a.services = a.services or set_of(a.services_raw)
    if not has_all(a.services, req.services) then return false end
  end
  return true
end

-- The highest-priority ready task of a class the agent can take (with aging,
-- long-waiting queues first, lowest first), claimed for it as running.
-- Returns its id or nil, and the classes the agent can and cannot take.
local function claim_direct(agent, agent_key, a, now)
  local can, cannot = { '' }, {}
  local classes = redis.call('HGETALL', K.classes)
  for i = 1, #classes, 2 do
    local ok, req = pcall(cjson.decode, classes[i + 1])
    if ok and type(req) == 'table' and eligible(a, req) then table.insert(can, classes[i])
    else table.insert(cannot, classes[i]) end
  end
  -- Most claims find nothing: one EXISTS over every queue the agent may take from says so.
  local queues = {}
  for _, p in ipairs(PRIORITIES) do
    for _, c in ipairs(can) do table.insert(queues, queue_key(p, c)) end
  end
  if redis.call('EXISTS', unpack(queues)) == 0 then return nil, can, cannot end
  for _ = 1, 10 do
    local best = {}
    for pi, p in ipairs(PRIORITIES) do
      for _, c in ipairs(can) do
        local qk = queue_key(p, c)
        local top = redis.call('ZRANGE', qk, 0, 0, 'WITHSCORES')
        if #top > 0 then
          local score = tonumber(top[2])
          if score <= now and (best[pi] == nil or score < best[pi].score) then
            best[pi] = { id = top[1], score = score, key = qk, class = c }
          end
        end
      end
    end
    local pick = nil
    if AGING >= 0 then
      for pi = #PRIORITIES, 1, -1 do
        if best[pi] and best[pi].score <= now - AGING then pick = best[pi] break end
      end
    end
    if not pick then for pi = 1, #PRIORITIES do if best[pi] then pick = best[pi] break end end end
    if not pick then return nil, can, cannot end
    redis.call('ZREM', pick.key, pick.id)
    if pick.class ~= '' and redis.call('ZCARD', pick.key) == 0 then drop_class_if_empty(pick.class) end
    local task_key = P.task .. pick.id
    if redis.call('HGET', task_key, 'state') == 'queued' then
      take(task_key, pick.id, agent, agent_key, 'running', now)
      return pick.id, can, cannot
    end
  end
  return nil, can, cannot
end

-- Pops the next task a distributor assigned to a pull agent and marks it
-- running; skips tasks taken back since (their lease ran out).
local function pull_next(agent)
  local list_key = P.pull .. agent
  while true do
    local id = redis.call('LPOP', list_key)
    if not id then return nil end
    local key = P.task .. id
    local f = redis.call('HMGET', key, 'state', 'agent_id')
    if f[1] == 'assigned' and f[2] == agent then
      redis.call('HSET', key, 'state', 'running')
      return id
    end
  end
end

local function flat_task(id)
  local out = { 'T' }
  for _, v in ipairs(redis.call('HGETALL', P.task .. id)) do table.insert(out, v) end
  return out
end

-- A task an agent takes ends any wait it was entered for (a poll that took it
-- after a wake-up, or an earlier poll's entry not yet expired): a submit must
-- not hand it another for a poll that has answered.
local function taken_by(agent, id)
  redis.call('ZREM', K.waiting, agent)
  return flat_task(id)
end

-- A pull agent's next task: one a distributor assigned to it, else, under
-- least_connections, the best ready task it can take, claimed in this call.
-- An agent that finds nothing and will wait (wait_ms > 0) is entered in the
-- waiting set with the daemon instance that holds its poll, so that a submit
-- can hand it the next task at once (see submitTask).
-- Returns {'T', field, value, ...} or {'N', why, in_flight, #can, can..., cannot...}
-- with why one of inactive, strategy (tasks come from a distributor), full, empty.
-- a: the agent's profile when the caller has just read it.
local function next_for(agent, wait_ms, instance, now, a)
  local id = pull_next(agent)
  if id then return taken_by(agent, id) end
  local agent_key = P.agent .. agent
  a = a or profile(agent_key)
  if a.status ~= 'active' then return { 'N', 'inactive', a.in_flight, 0 } end
  if (redis.call('GET', K.strategy) or DEFAULT_STRATEGY) ~= 'least_connections' then
    return { 'N', 'strategy', a.in_flight, 0 }
  end
  if a.in_flight >= a.capacity then return { 'N', 'full', a.in_flight, 0 } end
  now = now or now_ms()
  local got, can, cannot = claim_direct(agent, agent_key, a, now)
  if got then return taken_by(agent, got) end
  if wait_ms > 0 then
    redis.call('ZADD', K.waiting, now + wait_ms, agent)
    redis.call('HSET', K.waiting_at, agent, instance)
  end
  local out = { 'N', 'empty', a.in_flight, #can }
  for _, c in ipairs(can) do table.insert(out, c) end
  for _, c in ipairs(cannot) do table.insert(out, c) end
  return out
end

-- Under least_connections, a new task goes straight to a waiting pull agent
-- that can take it (of the first few waiting, the one with fewest in flight):
-- claimed as running, and sent (h|{instance}|{agent}|{task JSON}) on the
-- channel of the daemon holding the agent's poll only, which answers with it at once.
-- t: the new task's fields as stored. Returns the agent, or nil when none waits (the task is then queued).
local function hand_off(task_key, id, class, class_req, now, t)
  local waiting = redis.call('ZRANGEBYSCORE', K.waiting, now, '+inf', 'LIMIT', 0, 4)
  if #waiting == 0 then return nil end
  if (redis.call('GET', K.strategy) or DEFAULT_STRATEGY) ~= 'least_connections' then return nil end
  local req = nil
  if class ~= '' then
    local ok, r = pcall(cjson.decode, class_req)
    if not ok or type(r) ~= 'table' then return nil end
    req = r
  end
  local best, best_a = nil, nil
  for _, agent in ipairs(waiting) do
    local a = profile(P.agent .. agent)
    if a.status == 'active' and a.in_flight < a.capacity and (req == nil or eligible(a, req))
      and (best_a == nil or a.in_flight < best_a.in_flight) then
      best, best_a = agent, a
      -- None can have fewer.
      if a.in_flight == 0 then break end
    end
  end
  if not best then return nil end
  local instance = redis.call('HGET', K.waiting_at, best) or ''
  redis.call('ZREM', K.waiting, best)
  local lease = take(task_key, id, best, P.agent .. best, 'running', now, { t.timeout_ms, t.submitted_ms, '0' })
  t.state, t.agent_id, t.assigned_ms, t.lease_until, t.attempts = 'running', best, tostring(now), tostring(lease), '1'
  redis.call('PUBLISH', P.handoffs .. instance, 'h|' .. instance .. '|' .. best .. '|' .. cjson.encode(t))
  return best
end
`
}

/**
 * KEYS: task hash, idempotency key
 * ARGV: id, "1" when an idempotency key is given, max queue size, priority, class, class requirements JSON, field/value pairs...
 * Returns {1, id, priority, submitted ms} stored, {0, first id, its priority or '', its submitted ms or 0}
 * for a repeated idempotency key, {-1} when the queue is full.
 */
export const submitTask = `local id = ARGV[1]
if ARGV[2] == '1' then
  local first = redis.call('GET', KEYS[KS + 2])
  if first then
    local f = redis.call('HMGET', P.task .. first, 'priority', 'submitted_ms')
    return { 0, first, f[1] or '', f[2] or '0' }
  end
end
local priority, class, class_req = ARGV[4], ARGV[5], ARGV[6]
if redis.call('ZCARD', queue_key(priority, class)) >= tonumber(ARGV[3]) then return { -1 } end
local now = now_ms()
local task_key = KEYS[KS + 1]
local t = { submitted_ms = tostring(now), state = 'queued', attempts = '0' }
for i = 7, #ARGV - 1, 2 do t[ARGV[i]] = ARGV[i + 1] end
redis.call('HSET', task_key, 'submitted_ms', now, 'state', 'queued', 'attempts', 0, unpack(ARGV, 7))
if class ~= '' then
  redis.call('HSET', task_key, 'class', class, 'class_req', class_req)
  t.class, t.class_req = class, class_req
end
if ARGV[2] == '1' then redis.call('SET', KEYS[KS + 2], id, 'EX', 86400) end
redis.call('HINCRBY', K.stats, 'submitted', 1)
local agent = hand_off(task_key, id, class, class_req, now, t)
if not agent then enqueue(id, priority, class, class_req, now, now) end
return { 1, id, priority, tostring(now) }
`

/**
 * KEYS: (none of its own)
 * ARGV: agent id, how long it will wait when there is nothing (ms; 0: it will not), this daemon's instance id
 * The pull agent's next task, claimed in this call (see next_for).
 */
export const nextTask = `return next_for(ARGV[1], tonumber(ARGV[2]), ARGV[3])
`

/**
 * KEYS: task hash
 * ARGV: task id, agent id
 * A task handed to an agent whose poll had ended before it arrived goes back
 * to its queue as if never taken (the attempt is not counted). Returns OK, or
 * GONE when the task has moved on (reported, or taken back) since.
 */
export const handBack = `local task_key, id, agent = KEYS[KS + 1], ARGV[1], ARGV[2]
local f = redis.call('HMGET', task_key, 'state', 'agent_id', 'attempts', 'priority', 'class', 'class_req', 'assigned_ms', 'submitted_ms')
if f[1] ~= 'running' or f[2] ~= agent then return 'GONE' end
give_back(task_key, id, P.agent .. agent, f, now_ms())
return 'OK'
`

/**
 * A distributor's claim for one agent.
 * KEYS: task hash, agent hash
 * ARGV: task id, agent id, "1" for a pull agent (the task goes to its pull list),
 *   how long a push that probes an open circuit holds it half open (ms)
 * Returns OK, TAKEN (another daemon or agent got it), AGENT_UNAVAILABLE (not active, or
 * its push circuit is open) or AGENT_FULL.
 * An open circuit whose probe time has come lets this one push through (half open);
 * the push's outcome closes or reopens it (push-scripts.ts).
 */
export const assignTask = `local task_key, agent_key, id, agent = KEYS[KS + 1], KEYS[KS + 2], ARGV[1], ARGV[2]
local f = redis.call('HMGET', task_key, 'state', 'priority', 'class')
if f[1] ~= 'queued' then return 'TAKEN' end
local a = profile(agent_key)
if a.status ~= 'active' then return 'AGENT_UNAVAILABLE' end
if a.in_flight >= a.capacity then return 'AGENT_FULL' end
local c = redis.call('HMGET', agent_key, 'circuit', 'circuit_probe_at')
local probe = false
if c[1] and c[1] ~= '' then
  if tonumber(c[2] or '0') > now_ms() then return 'AGENT_UNAVAILABLE' end
  probe = true
end
local qk = queue_key(f[2], f[3] or '')
if redis.call('ZREM', qk, id) == 0 then return 'TAKEN' end
if redis.call('ZCARD', qk) == 0 then drop_class_if_empty(f[3] or '') end
local now = now_ms()
if probe then
  redis.call('HSET', agent_key, 'circuit', 'half_open', 'circuit_probe_at', now + tonumber(ARGV[4] or '30000'))
  redis.call('HINCRBY', agent_key, 'rev', 1)
end
take(task_key, id, agent, agent_key, 'assigned', now)
if ARGV[3] == '1' then
  redis.call('RPUSH', P.pull .. agent, id)
  notify('a|' .. agent)
end
return 'OK'
`

/**
 * KEYS: task hash
 * ARGV: task id, agent id, outcome (running|completed|completed+next|failed|retry), result or error;
 *   for completed+next also how long the agent will wait when there is nothing (ms) and this daemon's instance
 * Returns OK, DEAD/REQUEUED for a retry, for completed+next what next_for returns, or why nothing
 * changed: NOT_FOUND, ALREADY_COMPLETED/FAILED/DEAD, NOT_ASSIGNED (its lease ran out), WRONG_AGENT.
 */
export const finishTask = `local task_key, id, agent, outcome = KEYS[KS + 1], ARGV[1], ARGV[2], ARGV[3]
local f = redis.call('HMGET', task_key, 'state', 'agent_id')
local state = f[1]
if not state then return 'NOT_FOUND' end
if state == 'completed' or state == 'failed' or state == 'dead' then return 'ALREADY_' .. string.upper(state) end
if state == 'queued' then return 'NOT_ASSIGNED' end
if f[2] ~= agent then return 'WRONG_AGENT' end
local agent_key = P.agent .. agent
-- The agent answered: a run of pushes that never reached it is over (whichever daemon counted them).
local function answered()
  local pf = redis.call('HMGET', agent_key, 'push_failures', 'circuit')
  if pf[1] and pf[1] ~= '0' and (pf[2] or '') == '' then redis.call('HSET', agent_key, 'push_failures', 0) end
end
if outcome == 'running' then
  redis.call('HSET', task_key, 'state', 'running')
  answered()
  return 'OK'
end
local now = now_ms()
-- completed+next reads the agent's profile once, for the release and the next claim.
local a = nil
if outcome == 'completed+next' then a = profile(agent_key) end
release_slot(agent_key, a)
redis.call('ZREM', K.leases, id)
if outcome == 'completed' or outcome == 'completed+next' then
  redis.call('HSET', task_key, 'state', 'completed', 'result', ARGV[4], 'finished_ms', now)
  redis.call('HINCRBY', K.stats, 'completed', 1)
  redis.call('HINCRBY', agent_key, 'tasks_completed', 1)
  answered()
  retain('completed', task_key, id, now)
  if outcome == 'completed+next' then return next_for(agent, tonumber(ARGV[5] or '0') or 0, ARGV[6] or '', now, a) end
  return 'OK'
end
if outcome == 'failed' then
  redis.call('HSET', task_key, 'state', 'failed', 'error', ARGV[4], 'finished_ms', now)
  redis.call('HINCRBY', K.stats, 'failed', 1)
  retain('failed', task_key, id, now)
  return 'OK'
end
return retry_or_dead(task_key, id, now, ARGV[4])
`

/**
 * Takes back tasks whose lease ran out ("expired": only those, found from the
 * leases' lowest scores) or also those whose agent is stale, in error or gone
 * ("all": after an agent changed).
 * ARGV: expired|all, most tasks to look at
 * Returns {lowest lease end left or -1, ids taken back...}.
 */
export const reclaimTasks = `local mode, limit = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local ids
if mode == 'all' then ids = redis.call('ZRANGE', K.leases, 0, limit - 1)
else ids = redis.call('ZRANGEBYSCORE', K.leases, '-inf', now, 'LIMIT', 0, limit) end
local taken = {}
for _, id in ipairs(ids) do
  local task_key = P.task .. id
  local f = redis.call('HMGET', task_key, 'state', 'agent_id')
  if f[1] ~= 'assigned' and f[1] ~= 'running' then
    redis.call('ZREM', K.leases, id)
  else
    local agent = f[2] or ''
    local agent_key = P.agent .. agent
    local astatus = redis.call('HGET', agent_key, 'status')
    local reason = nil
    if tonumber(redis.call('ZSCORE', K.leases, id)) <= now then reason = 'lease expired on agent ' .. agent
    elseif not astatus then reason = 'agent ' .. agent .. ' was removed'
    elseif astatus == 'stale' or astatus == 'error' then reason = 'agent ' .. agent .. ' is ' .. astatus end
    if reason then
      redis.call('ZREM', K.leases, id)
      release_slot(agent_key)
      retry_or_dead(task_key, id, now, reason)
      table.insert(taken, id)
    end
  end
end
-- Waiting entries of polls that ended without saying so (a daemon that stopped).
local stale = redis.call('ZRANGEBYSCORE', K.waiting, '-inf', now - 1000, 'LIMIT', 0, 100)
if #stale > 0 then
  redis.call('ZREM', K.waiting, unpack(stale))
  redis.call('HDEL', K.waiting_at, unpack(stale))
end
local first = redis.call('ZRANGE', K.leases, 0, 0, 'WITHSCORES')
local out = { first[2] or '-1' }
for _, id in ipairs(taken) do table.insert(out, id) end
return out
`

/**
 * KEYS: task hash
 * ARGV: task id
 * A dead task goes back to its queue with fresh retries. Returns OK, NOT_FOUND or NOT_DEAD.
 */
export const requeueTask = `local task_key, id = KEYS[KS + 1], ARGV[1]
local f = redis.call('HMGET', task_key, 'state', 'priority', 'class', 'class_req')
if not f[1] then return 'NOT_FOUND' end
if f[1] ~= 'dead' then return 'NOT_DEAD' end
redis.call('PERSIST', task_key)
redis.call('HSET', task_key, 'state', 'queued', 'attempts', 0, 'finished_ms', '')
redis.call('ZREM', K.dead, id)
local now = now_ms()
enqueue(id, f[2], f[3] or '', f[4] or '', now, now)
return 'OK'
`

/**
 * ARGV: priority, reason
 * Every queued task of that priority, whatever its class, ends as failed with
 * the reason (never silently dropped). Returns how many.
 */
export const clearQueue = `local priority, reason = ARGV[1], ARGV[2]
local now = now_ms()
local classes = redis.call('HKEYS', K.classes)
table.insert(classes, '')
local n = 0
for _, c in ipairs(classes) do
  local qk = queue_key(priority, c)
  for _, id in ipairs(redis.call('ZRANGE', qk, 0, -1)) do
    local task_key = P.task .. id
    redis.call('HSET', task_key, 'state', 'failed', 'error', reason, 'finished_ms', now)
    retain('failed', task_key, id, now)
    n = n + 1
  end
  redis.call('DEL', qk)
  drop_class_if_empty(c)
end
redis.call('HINCRBY', K.stats, 'failed', n)
redis.call('HINCRBY', K.stats, 'cleared', n)
return n
`

/**
 * ARGV: most tasks per queue
 * For a distributor: the tasks that may be assigned now, in serving order, as
 * {next ready time or -1, then per task: priority, id, requirements JSON, submitted ms,
 * JSON list of the agents a push of it failed to reach}.
 * With aging, priorities whose oldest ready task waited longer come first, lowest first.
 */
export const readyTasks = `local now = now_ms()
local limit = tonumber(ARGV[1])
local classes = redis.call('HKEYS', K.classes)
table.insert(classes, 1, '')
local per, oldest, next_at = {}, {}, -1
for pi, p in ipairs(PRIORITIES) do
  per[pi] = {}
  for _, c in ipairs(classes) do
    local qk = queue_key(p, c)
    local rows = redis.call('ZRANGEBYSCORE', qk, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
    for i = 1, #rows, 2 do
      local score = tonumber(rows[i + 1])
      table.insert(per[pi], { id = rows[i], score = score })
      if oldest[pi] == nil or score < oldest[pi] then oldest[pi] = score end
    end
    local later = redis.call('ZRANGEBYSCORE', qk, '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if #later > 0 and (next_at < 0 or tonumber(later[2]) < next_at) then next_at = tonumber(later[2]) end
  end
  table.sort(per[pi], function(x, y) return x.score < y.score end)
end
local order, seen = {}, {}
if AGING >= 0 then
  for pi = #PRIORITIES, 1, -1 do
    if oldest[pi] and oldest[pi] <= now - AGING then table.insert(order, pi) seen[pi] = true end
  end
end
for pi = 1, #PRIORITIES do if not seen[pi] then table.insert(order, pi) end end
local out = { tostring(next_at) }
for _, pi in ipairs(order) do
  for i = 1, math.min(#per[pi], limit) do
    local id = per[pi][i].id
    local f = redis.call('HMGET', P.task .. id, 'requirements', 'submitted_ms', 'push_avoid')
    if f[1] then
      table.insert(out, PRIORITIES[pi])
      table.insert(out, id)
      table.insert(out, f[1])
      table.insert(out, f[2] or '0')
      table.insert(out, f[3] or '[]')
    end
  end
end
return out
`

/** Returns the number of queued tasks of each priority (every class), in priority order. */
export const queueSizes = `local classes = redis.call('HKEYS', K.classes)
table.insert(classes, '')
local out = {}
for _, p in ipairs(PRIORITIES) do
  local n = 0
  for _, c in ipairs(classes) do n = n + redis.call('ZCARD', queue_key(p, c)) end
  table.insert(out, n)
end
return out
`
