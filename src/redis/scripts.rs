//! The Lua scripts: Redis runs each one whole, with no other command in between, so a
//! script is the unit of atomicity. Write scripts declare themselves (`#!lua`) so that Redis
//! refuses them up front, before any write, when it is out of memory: a script that failed
//! midway would leave its first writes behind.
//!
//! Layout of a session's keys, all under one hash tag (`base` = `{prefix}{session}:`):
//! `meta` (hash: created_ms, updated_ms, creds, born: a mark of this making of the
//! session), `k:{type}` (hash: id → value), `i:{type}`
//! (sorted set of the ids, for listing in id order), `types` (set of types holding keys),
//! `sizes` (hash: type → bytes of its values), `lease` (hash). `{prefix}sessions` is the
//! set of session names.

/// Shared by the write scripts: KEYS = meta, lease, types, sizes, sessions index;
/// ARGV[1] = base, ARGV[2] = session name, ARGV[3] = lease token ('' when none held).
macro_rules! write_prelude {
    () => {
        r#"#!lua
local meta, lease, types, sizes, index = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local base, name, token = ARGV[1], ARGV[2], ARGV[3]
if token ~= '' and redis.call('HGET', lease, 'token') ~= token then
  return -1
end
local now
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end
local function clear()
  for _, ty in ipairs(redis.call('SMEMBERS', types)) do
    redis.call('UNLINK', base .. 'k:' .. ty, base .. 'i:' .. ty)
  end
  redis.call('UNLINK', types, sizes)
end
"#
    };
}

/// Applies a batch of mutations. ARGV[4] says which session the store writes: `=born`, the
/// one it knows, whose `meta` holds that `born` mark (empty for a session made before marks
/// were kept); or `+born`, any, made with that mark if there is none. Should the session
/// the store knows be gone (deleted by another connection while the store was open, maybe
/// made again since), nothing is written and -2 returned.
/// The mutations follow, each as ARGV from 5 on: `K n (p|d type id value)*n` keys,
/// `C creds`, `X` clear, `R has creds K-body` replace.
/// Returns {number applied, the session's mark}, or -1 when the lease was lost (nothing
/// written).
pub const APPLY: &str = concat!(
    write_prelude!(),
    r#"
local m = redis.call('HMGET', meta, 'created_ms', 'born')
local known, mark = string.sub(ARGV[4], 1, 1) == '=', string.sub(ARGV[4], 2)
local born = m[2] or ''
if not m[1] then
  if known then return {-2, ''} end
  born = mark
  redis.call('HSET', meta, 'created_ms', clock(), 'updated_ms', clock(), 'born', born)
  redis.call('SADD', index, name)
elseif known and born ~= mark then
  return {-2, ''}
end
-- The common batches first, one keys.set of puts of one type or one creds write, with no
-- closure or table made: for a small write, making those costs the server about as much
-- as the commands (6.2 -> 4.5 us for a put of 1.3 kB).
if ARGV[5] == 'K' then
  local n = tonumber(ARGV[6])
  local ty = ARGV[8]
  local lean = n > 0 and n <= 500 and #ARGV == 6 + 4 * n
  for i = 7, #ARGV, 4 do
    if not lean then break end
    lean = ARGV[i] == 'p' and ARGV[i + 1] == ty
  end
  if lean then
    local h, scored, fresh, delta = base .. 'k:' .. ty, {}, 0, 0
    for i = 9, #ARGV, 4 do
      local id, v = ARGV[i], ARGV[i + 1]
      local old = redis.call('HSTRLEN', h, id)
      if redis.call('HSET', h, id, v) == 1 then
        scored[fresh * 2 + 1], scored[fresh * 2 + 2] = 0, id
        fresh = fresh + 1
      end
      delta = delta + #v - old
    end
    if fresh > 0 then
      redis.call('ZADD', base .. 'i:' .. ty, unpack(scored))
      redis.call('SADD', types, ty)
    end
    if delta ~= 0 then redis.call('HINCRBY', sizes, ty, delta) end
    return {1, born}
  end
elseif ARGV[5] == 'C' and #ARGV == 6 then
  redis.call('HSET', meta, 'creds', ARGV[6], 'updated_ms', clock())
  return {1, born}
end
-- Consecutive puts of one type share one ZADD of their new ids, one SADD and one HINCRBY:
-- a call per key and command costs Lua more than the commands themselves. A run holds at
-- most 500 new ids (unpack has a limit).
local run = {n = 0}
local function flush()
  if run.n > 0 then
    redis.call('ZADD', base .. 'i:' .. run.ty, unpack(run.scored))
    redis.call('SADD', types, run.ty)
  end
  if run.delta and run.delta ~= 0 then redis.call('HINCRBY', sizes, run.ty, run.delta) end
  run = {n = 0}
end
local function put(ty, id, v)
  if run.ty ~= ty or run.n == 500 then
    flush()
    run = {ty = ty, h = base .. 'k:' .. ty, n = 0, scored = {}, delta = 0}
  end
  local old = redis.call('HSTRLEN', run.h, id)
  if redis.call('HSET', run.h, id, v) == 1 then
    run.scored[run.n * 2 + 1], run.scored[run.n * 2 + 2] = 0, id
    run.n = run.n + 1
  end
  run.delta = run.delta + #v - old
end
local function del(ty, id)
  flush()
  local h = base .. 'k:' .. ty
  local old = redis.call('HSTRLEN', h, id)
  if redis.call('HDEL', h, id) == 1 then
    redis.call('ZREM', base .. 'i:' .. ty, id)
    if redis.call('EXISTS', h) == 0 then
      redis.call('SREM', types, ty)
      redis.call('HDEL', sizes, ty)
    elseif old > 0 then
      redis.call('HINCRBY', sizes, ty, -old)
    end
  end
end
local function creds(present, value)
  if present then
    redis.call('HSET', meta, 'creds', value, 'updated_ms', clock())
  else
    redis.call('HDEL', meta, 'creds')
    redis.call('HSET', meta, 'updated_ms', clock())
  end
end
local function keys(i)
  local n = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, n do
    if ARGV[i] == 'p' then put(ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]) else del(ARGV[i + 1], ARGV[i + 2]) end
    i = i + 4
  end
  flush()
  return i
end
local i, applied = 5, 0
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'K' then i = keys(i + 1)
  elseif op == 'C' then creds(true, ARGV[i + 1]); i = i + 2
  elseif op == 'X' then clear(); i = i + 1
  elseif op == 'R' then clear(); creds(ARGV[i + 1] == '1', ARGV[i + 2]); i = keys(i + 3)
  end
  applied = applied + 1
end
return {applied, born}
"#
);

/// The bookkeeping of one type's writes in a set written in parts (parts.rs), run inside
/// its MULTI/EXEC just before the `HSET` of their values, which never pass through Lua:
/// a value copied into Lua costs the server about 1.6 ns a byte, as much as the rest of
/// the write. KEYS = the type's values and ids, types, sizes; ARGV[1] = the type, then per
/// write `p id length` (a put) or `d id 0` (a delete, done here).
pub const PART: &str = r#"#!lua
local h, z, types, sizes = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ty = ARGV[1]
local scored, fresh, delta, deleted = {}, 0, 0, false
for i = 2, #ARGV, 3 do
  local id = ARGV[i + 1]
  local old = redis.call('HSTRLEN', h, id)
  if ARGV[i] == 'p' then
    if old == 0 then
      scored[fresh * 2 + 1], scored[fresh * 2 + 2] = 0, id
      fresh = fresh + 1
    end
    delta = delta + tonumber(ARGV[i + 2]) - old
  elseif redis.call('HDEL', h, id) == 1 then
    redis.call('ZREM', z, id)
    delta = delta - old
    deleted = true
  end
end
if fresh > 0 then
  redis.call('ZADD', z, unpack(scored))
  redis.call('SADD', types, ty)
elseif deleted and redis.call('EXISTS', h) == 0 then
  redis.call('SREM', types, ty)
  redis.call('HDEL', sizes, ty)
  return 1
end
if delta ~= 0 then redis.call('HINCRBY', sizes, ty, delta) end
return 1
"#;

/// Ends a set written in parts, last in its MULTI/EXEC: makes the session if there is none
/// (with the mark ARGV[2]; the store checked before that it did not know one). Like
/// APPLY's writes of keys, it leaves `updated_ms` of a session that exists as it is.
/// KEYS = meta, sessions index; ARGV[1] = the session's name. Returns its mark.
pub const FINISH: &str = r#"#!lua
local m = redis.call('HMGET', KEYS[1], 'created_ms', 'born')
if m[1] then return m[2] or '' end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'created_ms', now, 'updated_ms', now, 'born', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return ARGV[2]
"#;

/// Removes the session whole: 1 if it existed, 0 if not, -1 when the lease was lost.
pub const DELETE: &str = concat!(
    write_prelude!(),
    r#"
local existed = redis.call('EXISTS', meta)
clear()
redis.call('UNLINK', meta, lease)
redis.call('SREM', index, name)
return existed
"#
);

/// Takes the lease (KEYS[1]) unless a live holder keeps it: ARGV = token, pid, host, ttl_ms,
/// takeover ('n' never, 'a' always, 'f' from the holder whose token is ARGV[6]). Returns
/// nil when taken, else the holder (pid, host, since_ms, renewed_ms, ttl_ms, token). A
/// lease lapses when renewed_ms + ttl_ms is past on the server's clock.
pub const ACQUIRE: &str = r#"#!lua
local lease = KEYS[1]
local token, pid, host, ttl, mode, from = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', lease, 'token', 'renewed_ms', 'ttl_ms')
if h[1] then
  local lapsed = tonumber(h[2]) + tonumber(h[3]) < now
  if not (h[1] == token or lapsed or mode == 'a' or (mode == 'f' and h[1] == from)) then
    return redis.call('HMGET', lease, 'pid', 'host', 'since_ms', 'renewed_ms', 'ttl_ms', 'token')
  end
end
redis.call('HSET', lease, 'token', token, 'pid', pid, 'host', host,
  'since_ms', now, 'renewed_ms', now, 'ttl_ms', ttl)
return false
"#;

/// Renews the lease (KEYS[1]) held with token ARGV[1]: 1, or 0 if someone took it.
pub const RENEW: &str = r#"#!lua
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'renewed_ms', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
return 1
"#;

/// Gives the lease (KEYS[1]) back if token ARGV[1] still holds it.
pub const RELEASE: &str = r#"#!lua
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"#;

/// One page of ids after ARGV[1] (a ZRANGEBYLEX bound) of the sorted set KEYS[1], at most
/// ARGV[2], with their values from the hash KEYS[2] when ARGV[3] is '1': id, value, ...
pub const LIST: &str = r#"#!lua flags=no-writes
local ids = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
local values = (#ids > 0 and ARGV[3] == '1') and redis.call('HMGET', KEYS[2], unpack(ids)) or {}
for i, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = values[i] or ''
end
return out
"#;

/// Keys per type: KEYS = types, sizes; ARGV[1] = base. Returns type, count, bytes, ...
pub const COUNTS: &str = r#"#!lua flags=no-writes
local out = {}
for _, ty in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  out[#out + 1] = ty
  out[#out + 1] = redis.call('HLEN', ARGV[1] .. 'k:' .. ty)
  out[#out + 1] = tonumber(redis.call('HGET', KEYS[2], ty) or 0)
end
return out
"#;

/// One session as `sessions()` reports it: KEYS = meta, lease, types, sizes; ARGV[1] =
/// base. Returns {created_ms, updated_ms, has creds, keys, bytes} and the lease's {pid,
/// host, since_ms, renewed_ms, ttl_ms, token} (nils when none); nil if no such session.
pub const SESSION: &str = r#"#!lua flags=no-writes
local m = redis.call('HMGET', KEYS[1], 'created_ms', 'updated_ms')
if not m[1] then return false end
local keys, bytes = 0, 0
for _, ty in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  keys = keys + redis.call('HLEN', ARGV[1] .. 'k:' .. ty)
end
for _, b in ipairs(redis.call('HVALS', KEYS[4])) do bytes = bytes + tonumber(b) end
return {{tonumber(m[1]), tonumber(m[2]), redis.call('HEXISTS', KEYS[1], 'creds'), keys, bytes},
  redis.call('HMGET', KEYS[2], 'pid', 'host', 'since_ms', 'renewed_ms', 'ttl_ms', 'token')}
"#;

/// The problems of one session's keys: KEYS = meta, types, sizes; ARGV[1] = base.
pub const CHECK: &str = r#"#!lua flags=no-writes
local problems = {}
if redis.call('EXISTS', KEYS[1]) == 0 then
  problems[#problems + 1] = 'is listed but has no session record'
end
for _, ty in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local h, z = ARGV[1] .. 'k:' .. ty, ARGV[1] .. 'i:' .. ty
  local n, listed = redis.call('HLEN', h), redis.call('ZCARD', z)
  if n == 0 then problems[#problems + 1] = 'type ' .. ty .. ' is listed but holds no keys' end
  if n ~= listed then
    problems[#problems + 1] = 'type ' .. ty .. ': ' .. n .. ' keys but ' .. listed .. ' listed ids'
  end
  local bytes = 0
  for _, id in ipairs(redis.call('HKEYS', h)) do bytes = bytes + redis.call('HSTRLEN', h, id) end
  if bytes ~= tonumber(redis.call('HGET', KEYS[3], ty) or 0) then
    problems[#problems + 1] = 'type ' .. ty .. ': recorded size differs from the values'
  end
end
return problems
"#;
