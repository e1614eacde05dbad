"""The server-side scripts of the Redis backend: each runs atomically inside Redis.

Bucket scripts take the time from Redis itself (``TIME``), so every replica refills a bucket
on the same clock whatever its own. A bucket is a hash ``{l: level, t: last update}`` that
expires once it would be full again (a forgotten bucket comes back full: the same thing).
Numbers cross as strings (``%.17g``): Lua would truncate a returned float to an integer.
"""

from __future__ import annotations

# Shared by both bucket scripts: the bucket's level refilled up to now (never moving its
# clock back), from KEYS[i] and its capacity and refill rate.
_REFILL = """
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function refilled(key, cap, rate, now)
  local state = redis.call('HMGET', key, 'l', 't')
  if not state[1] then return cap, now end
  local level, last = tonumber(state[1]), tonumber(state[2])
  if now > last then return math.min(cap, level + (now - last) * rate), now end
  return level, last
end
local function save(key, level, t, cap, rate, margin)
  redis.call('HSET', key, 'l', string.format('%.17g', level), 't', string.format('%.17g', t))
  local full_in = 0
  if level < cap then full_in = (cap - level) / rate end
  redis.call('PEXPIRE', key, math.ceil((full_in + margin) * 1000))
end
"""

# KEYS: the buckets; ARGV[1]: expiry margin (s); then capacity, rate, amount per bucket.
# Returns {refused index (0: taken), wait (-1: never), level of each bucket...}.
TAKE = (
    _REFILL
    + """
local margin = tonumber(ARGV[1])
local now = now_s()
local levels, times = {}, {}
local refused, wait = 0, 0
for i = 1, #KEYS do
  local cap, rate, amount = tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i]), tonumber(ARGV[3*i+1])
  levels[i], times[i] = refilled(KEYS[i], cap, rate, now)
  if refused == 0 and levels[i] < amount then
    refused = i
    if amount > cap then wait = -1 else wait = (amount - levels[i]) / rate end
  end
end
local out = {tostring(refused), string.format('%.17g', wait)}
for i = 1, #KEYS do
  local cap, rate, amount = tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i]), tonumber(ARGV[3*i+1])
  if refused == 0 then levels[i] = levels[i] - amount end
  save(KEYS[i], levels[i], times[i], cap, rate, margin)
  out[#out+1] = string.format('%.17g', levels[i])
end
return out
"""
)

# KEYS[1]: the bucket; ARGV: margin, capacity, rate, amount (negative: a refund).
ADJUST = (
    _REFILL
    + """
local margin, cap, rate, amount = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local level, t = refilled(KEYS[1], cap, rate, now_s())
level = math.min(cap, level - amount)
save(KEYS[1], level, t, cap, rate, margin)
return string.format('%.17g', level)
"""
)

# The next version: Redis's clock in microseconds, or one more than the last. A Redis that
# restarts empty keeps counting up from where replicas last saw it, so they do not ignore
# the first document published after the restart as old.
_NEXT_VERSION = """
local function next_version(key)
  local t = redis.call('TIME')
  local v = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('GET', key) or '0')
  if v <= last then v = last + 1 end
  redis.call('SET', key, string.format('%d', v))
  return v
end
"""

# KEYS: document, version; ARGV[1]: the document. Returns the new version.
PUBLISH = (
    _NEXT_VERSION
    + """
redis.call('SET', KEYS[1], ARGV[1])
return next_version(KEYS[2])
"""
)

# As PUBLISH, only when no document exists. Returns 1 when published.
PUBLISH_IF_ABSENT = (
    _NEXT_VERSION
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
next_version(KEYS[2])
return 1
"""
)

# KEYS: document, version; ARGV[1]: the version known. Returns {version, document} or nil.
FETCH_NEWER = """
local v = redis.call('GET', KEYS[2])
if not v or tonumber(v) <= tonumber(ARGV[1]) then return false end
return {v, redis.call('GET', KEYS[1])}
"""

# KEYS[1]: the step counter; ARGV: expected, new, ttl (s). Returns 1 when set.
COMPARE_AND_SET = """
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""

# KEYS: a budget's counter; ARGV: its limit, TTL (s). Returns 1 when one use was taken, 0 when spent.
CLAIM = """
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], v + 1, 'EX', ARGV[2])
return 1
"""

# KEYS: the list, its sequence; ARGV: the record, how many to keep. Returns its sequence.
APPEND_RECORD = """
local seq = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[1], seq .. '\\n' .. ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
return seq
"""

# KEYS: the hash, its version; ARGV: field, value. Stores "<stamp> <value>"; returns the stamp.
MAP_SET = (
    _NEXT_VERSION
    + """
local v = next_version(KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', v) .. ' ' .. ARGV[2])
return v
"""
)

# KEYS: the hash, its version; ARGV[1]: the version known. Returns {version, field, value, ...} or nil.
MAP_NEWER = """
local v = redis.call('GET', KEYS[2])
if not v or tonumber(v) <= tonumber(ARGV[1]) then return false end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, v)
return out
"""

# Add to named counters in a hash (ARGV: name, delta pairs, then the time to live in ms).
COUNTERS_ADD = """
for i = 1, #ARGV - 1, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[#ARGV])
return 1
"""

# Read named counters and extend their time to live (ARGV: the time to live in ms) when
# the hash exists: a read that keeps a test scope alive keeps its counters alive.
COUNTERS_READ_KEEP = """
local out = redis.call('HGETALL', KEYS[1])
if #out > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return out
"""
