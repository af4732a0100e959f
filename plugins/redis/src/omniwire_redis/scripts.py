"""The server-side Lua scripts: every check-and-change is one script, so it is atomic
against every other process using the same Redis.

Scripts are sent by SHA1 (``EVALSHA``); after a Redis restart (empty script cache) the
``NOSCRIPT`` answer makes :class:`~omniwire_redis.link.RedisLink` send the body once
(``EVAL``), which caches it again.

Amounts cross the Lua boundary as the decimal strings Python sent (Lua numbers are
doubles; integer micro-dollars below 2**53 are exact, and strings are concatenated into
members unchanged). Fractional results come back as ``%.17g`` strings, since Redis
truncates Lua numbers to integers in replies.
"""

from __future__ import annotations

import hashlib

import attrs

__all__ = [
    "BREAKER_PUT",
    "BREAKER_TALLY",
    "BUCKET",
    "BUDGET_HELD",
    "BUDGET_RESERVE",
    "BUDGET_ROLLED",
    "BUDGET_SETTLE",
    "SLOTS",
    "Script",
]


@attrs.frozen(slots=True)
class Script:
    name: str
    source: str
    sha: str = attrs.field(init=False)

    @sha.default
    def _sha(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()


_EXPIRE_HOLDS = """
local function expire_holds(holds, held, now)
  local gone = redis.call('ZRANGEBYSCORE', holds, '-inf', now)
  if #gone > 0 then
    local total = 0
    for _, member in ipairs(gone) do
      total = total + tonumber(string.match(member, '^(%d+):'))
    end
    redis.call('ZREMRANGEBYSCORE', holds, '-inf', now)
    if redis.call('DECRBY', held, total) <= 0 then redis.call('DEL', held) end
  end
  return tonumber(redis.call('GET', held) or '0')
end
"""

_PRUNE_CHARGES = """
local function prune_charges(charges, rolled, horizon)
  local gone = redis.call('ZRANGEBYSCORE', charges, '-inf', horizon)
  if #gone > 0 then
    local total = 0
    for _, member in ipairs(gone) do
      total = total + tonumber(string.match(member, '^(%d+):'))
    end
    redis.call('ZREMRANGEBYSCORE', charges, '-inf', horizon)
    if redis.call('DECRBY', rolled, total) <= 0 then redis.call('DEL', rolled) end
  end
  return tonumber(redis.call('GET', rolled) or '0')
end
"""

BUDGET_RESERVE = Script(
    "budget_reserve",
    _EXPIRE_HOLDS
    + _PRUNE_CHARGES
    + """
-- KEYS[1] the reservation hash; then per scope: holds, held, spend, rolled
-- ARGV: now, need, deadline, rid, hold ttl (s), n, then per scope:
--       limit, kind, horizon, window, key, seconds
local now, need, rid, n = ARGV[1], tonumber(ARGV[2]), ARGV[4], tonumber(ARGV[6])
for i = 1, n do
  local a, k = 6 + (i - 1) * 6, 1 + (i - 1) * 4
  local limit, kind = tonumber(ARGV[a + 1]), ARGV[a + 2]
  local held = expire_holds(KEYS[k + 1], KEYS[k + 2], now)
  local spent
  if kind == 'rolling' then
    spent = prune_charges(KEYS[k + 3], KEYS[k + 4], ARGV[a + 3])
  else
    spent = tonumber(redis.call('GET', KEYS[k + 3]) or '0')
  end
  if spent + held + need > limit or (need == 0 and spent + held >= limit) then
    return {0, i, limit, spent, held}
  end
end
redis.call('HSET', KEYS[1], 'amount', ARGV[2], 'deadline', ARGV[3], 'n', n)
for i = 1, n do
  local a, k = 6 + (i - 1) * 6, 1 + (i - 1) * 4
  redis.call('HSET', KEYS[1], 'k' .. i, ARGV[a + 5], 'w' .. i, ARGV[a + 4],
             't' .. i, ARGV[a + 2], 's' .. i, ARGV[a + 6])
  redis.call('ZADD', KEYS[k + 1], ARGV[3], ARGV[2] .. ':' .. rid)
  redis.call('INCRBY', KEYS[k + 2], ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1}
""",
)

BUDGET_SETTLE = Script(
    "budget_settle",
    _PRUNE_CHARGES
    + """
-- KEYS[1] the reservation hash
-- ARGV: prefix, now, spend, day, month, rid, day ttl, month ttl, inline n,
--       then inline scopes (key, window, kind, seconds) for holds Redis never saw
local prefix, now, spend, rid = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[6]
local fields = redis.call('HGETALL', KEYS[1])
local hold = {}
for i = 1, #fields, 2 do hold[fields[i]] = fields[i + 1] end
local scopes = {}
if hold['n'] then
  for i = 1, tonumber(hold['n']) do
    scopes[i] = {hold['k' .. i], hold['w' .. i], hold['t' .. i], hold['s' .. i]}
  end
  redis.call('DEL', KEYS[1])
else
  local inline = tonumber(ARGV[9])
  if inline == 0 then return 0 end
  for i = 1, inline do
    local a = 9 + (i - 1) * 4
    scopes[i] = {ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]}
  end
end
for _, scope in ipairs(scopes) do
  local key, window, kind, seconds = scope[1], scope[2], scope[3], tonumber(scope[4])
  local base = prefix .. 'budget:' .. window .. '|' .. key
  if hold['n'] then
    local member = hold['amount'] .. ':' .. rid
    if redis.call('ZREM', base .. ':holds', member) == 1 then
      if redis.call('DECRBY', base .. ':held', hold['amount']) <= 0 then
        redis.call('DEL', base .. ':held')
      end
    end
  end
  if spend > 0 then
    if kind == 'rolling' then
      local charges, rolled = base .. ':charges', base .. ':rolled'
      prune_charges(charges, rolled, tonumber(now) - seconds)
      redis.call('ZADD', charges, now, ARGV[3] .. ':' .. rid)
      redis.call('INCRBY', rolled, ARGV[3])
      local ttl = math.ceil(seconds) + 60
      redis.call('EXPIRE', charges, ttl)
      redis.call('EXPIRE', rolled, ttl)
    elseif kind == 'day' then
      redis.call('INCRBY', base .. ':spent:' .. ARGV[4], ARGV[3])
      redis.call('EXPIRE', base .. ':spent:' .. ARGV[4], ARGV[7])
    elseif kind == 'month' then
      redis.call('INCRBY', base .. ':spent:' .. ARGV[5], ARGV[3])
      redis.call('EXPIRE', base .. ':spent:' .. ARGV[5], ARGV[8])
    else
      redis.call('INCRBY', base .. ':spent:total', ARGV[3])
    end
  end
end
return 1
""",
)

BUDGET_HELD = Script(
    "budget_held",
    _EXPIRE_HOLDS
    + """
-- KEYS: holds, held; ARGV: now
return expire_holds(KEYS[1], KEYS[2], ARGV[1])
""",
)

BUDGET_ROLLED = Script(
    "budget_rolled",
    _PRUNE_CHARGES
    + """
-- KEYS: charges, rolled; ARGV: horizon
return prune_charges(KEYS[1], KEYS[2], ARGV[1])
""",
)

_NOW = """
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

BUCKET = Script(
    "bucket",
    _NOW
    + """
-- a token bucket, refilled continuously on Redis's own clock
-- KEYS[1] the bucket hash; ARGV: mode (take|give|level), amount, capacity, rate
local mode, amount = ARGV[1], tonumber(ARGV[2])
local capacity, rate = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'level', 'stamp')
local level, stamp = tonumber(state[1]), tonumber(state[2])
if level == nil then
  level, stamp = capacity, now
elseif now > stamp then
  level = math.min(capacity, level + (now - stamp) * rate)
  stamp = now
end
local wait = 0
if mode == 'take' then
  if level >= amount then
    level = level - amount
  elseif rate > 0 then
    wait = (amount - level) / rate
  else
    wait = -1
  end
elseif mode == 'give' then
  level = math.min(capacity, level + amount)
end
if mode ~= 'level' and wait == 0 then
  redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level),
             'stamp', string.format('%.17g', stamp))
  local full = 3600
  if rate > 0 then full = (capacity - level) / rate end
  redis.call('PEXPIRE', KEYS[1], math.ceil(full * 1000) + 1000)
end
return {string.format('%.17g', wait), string.format('%.17g', level)}
""",
)

SLOTS = Script(
    "slots",
    _NOW
    + """
-- concurrency slots: a count per process (KEYS[1] hash: token -> slots held) and the
-- lease of each process (KEYS[2] zset: token -> end of lease); a process whose lease
-- ended (it crashed) holds nothing any more
-- ARGV: mode (acquire|release|held), token, limit, lease
local mode, token, lease = ARGV[1], ARGV[2], tonumber(ARGV[4])
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, gone in ipairs(dead) do redis.call('HDEL', KEYS[1], gone) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
local total = 0
for _, count in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(count) end
if mode == 'held' then return total end
local result = 1
if mode == 'acquire' then
  if total >= tonumber(ARGV[3]) then
    result = 0
  else
    redis.call('HINCRBY', KEYS[1], token, 1)
  end
else
  local mine = tonumber(redis.call('HGET', KEYS[1], token) or '0')
  if mine > 1 then
    redis.call('HINCRBY', KEYS[1], token, -1)
  elseif mine == 1 then
    redis.call('HDEL', KEYS[1], token)
  end
end
if redis.call('HEXISTS', KEYS[1], token) == 1 then
  redis.call('ZADD', KEYS[2], now + lease, token)
else
  redis.call('ZREM', KEYS[2], token)
end
local ttl = math.ceil(lease) + 60
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return result
""",
)

BREAKER_PUT = Script(
    "breaker_put",
    """
-- KEYS[1] the circuit hash; ARGV: ttl, then field, value pairs (a whole circuit)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
""",
)

BREAKER_TALLY = Script(
    "breaker_tally",
    """
-- outcomes per time slot: fields '<slot>' (attempts) and '<slot>f' (failures)
-- KEYS[1] the tally hash; ARGV: slot, failed (0|1), slots, ttl
local slot, failed, slots = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if failed == 1 then redis.call('HINCRBY', KEYS[1], ARGV[1] .. 'f', 1) end
local fields = redis.call('HGETALL', KEYS[1])
local attempts, failures = 0, 0
for i = 1, #fields, 2 do
  local name, count = fields[i], tonumber(fields[i + 1])
  local at = tonumber(string.match(name, '^(-?%d+)'))
  if at <= slot - slots then
    redis.call('HDEL', KEYS[1], name)
  elseif string.sub(name, -1) == 'f' then
    failures = failures + count
  else
    attempts = attempts + count
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {attempts, failures}
""",
)
