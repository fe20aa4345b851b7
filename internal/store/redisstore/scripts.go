package redisstore

import "github.com/redis/go-redis/v9"

// The session scripts below run atomically on the Redis server: each is
// one compare-and-swap over a record and its index keys, so that every
// store.Sessions guarantee holds however many nodes call at once.
//
// Session layout, under the prefix P (ARGV[1] of every session script).
// It is exactly the layout of the previous release's store
// (internal/session/redisstore), so that nodes of both releases share
// their sessions during a rolling upgrade:
//
//	P s:<id>            hash: the record, one field per Session field:
//	                    id u a sv tk lh c ch cr m o lo ru tu tp tc ca lu ea
//	                    (ID User Account Service Token LoginHash Consumed
//	                    CookieHash Creator Method Origin Locale ReturnURL
//	                    TempUser TempPass TempCreated CreatedAt LastUsed
//	                    ExpiresAt); hashes in lower-case hex ("" for none),
//	                    booleans "0"/"1", times in Unix ms, ru and tp
//	                    sealed (secretbox, contexts
//	                    "uapid/session/<id>/return_url" and
//	                    "uapid/session/<id>/temp_pass"; "" for "")
//	P t:<token>         string: id of the record with this token
//	P l:<hex hash>      string: id of the record with this login hash
//	P c:<hex hash>      string: id of the record with this cookie hash
//	P a:<account>       set: ids of the account's records
//	P exp               sorted set: every id, scored by ExpiresAt (ms)
//
// A record and its index keys expire natively (PEXPIREAT) at the later of
// ExpiresAt and the server's now, plus the grace period; until then an
// expired record stays visible, so that lookups can say "expired", and
// Sweep (which walks P exp) returns it. An account's set expires with the
// last of its records; ids left behind by records that expired natively
// are dropped by Sweep (from P exp) and by DeleteByAccount (from P a:…).
//
// The attempt counters live under P att: (see attempts.go), which no
// session key can start with.

// luaLib is prepended to every script. P is the key prefix, GRACE the
// grace period in ms.
const luaLib = `
local P = ARGV[1]
local GRACE = tonumber(ARGV[2])
local function rkey(id) return P .. 's:' .. id end
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- expire_all sets the native expiry of a record and its index keys, and
-- makes the account's set live at least as long.
local function expire_all(id, tk, lh, ch, acct, ea)
  local now = nowms()
  local atn = math.max(tonumber(ea), now) + GRACE
  local at = string.format('%.0f', atn)
  redis.call('PEXPIREAT', rkey(id), at)
  redis.call('PEXPIREAT', P .. 't:' .. tk, at)
  if lh ~= '' then redis.call('PEXPIREAT', P .. 'l:' .. lh, at) end
  if ch ~= '' then redis.call('PEXPIREAT', P .. 'c:' .. ch, at) end
  local ak = P .. 'a:' .. acct
  local ttl = redis.call('PTTL', ak)
  if ttl == -1 or (ttl >= 0 and now + ttl < atn) then redis.call('PEXPIREAT', ak, at) end
end
-- taken reports whether index key k names a record that exists.
local function taken(k)
  local v = redis.call('GET', k)
  if not v then return false end
  return redis.call('EXISTS', rkey(v)) == 1
end
-- delidx deletes index key k if it still names id.
local function delidx(k, id)
  if redis.call('GET', k) == id then redis.call('DEL', k) end
end
-- drop deletes a record with its index entries and returns its fields
-- (flat), or nil when it does not exist.
local function drop(id)
  local h = redis.call('HGETALL', rkey(id))
  if #h == 0 then return nil end
  local f = {}
  for i = 1, #h, 2 do f[h[i]] = h[i + 1] end
  redis.call('DEL', rkey(id))
  delidx(P .. 't:' .. f.tk, id)
  if f.lh ~= '' then delidx(P .. 'l:' .. f.lh, id) end
  if f.ch ~= '' then delidx(P .. 'c:' .. f.ch, id) end
  redis.call('SREM', P .. 'a:' .. f.a, id)
  redis.call('ZREM', P .. 'exp', id)
  return h
end
`

// ARGV: P, GRACE, id, token, login hex, cookie hex, account, expires ms,
// then the record's field/value pairs. Returns "ok", or what is taken:
// "id", "token", "login" or "cookie".
var scriptCreate = redis.NewScript(luaLib + `
local id, tk, lh, ch, acct, ea = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
if redis.call('EXISTS', rkey(id)) == 1 then return 'id' end
if taken(P .. 't:' .. tk) then return 'token' end
if lh ~= '' and taken(P .. 'l:' .. lh) then return 'login' end
if ch ~= '' and taken(P .. 'c:' .. ch) then return 'cookie' end
redis.call('HSET', rkey(id), unpack(ARGV, 9))
redis.call('SET', P .. 't:' .. tk, id)
if lh ~= '' then redis.call('SET', P .. 'l:' .. lh, id) end
if ch ~= '' then redis.call('SET', P .. 'c:' .. ch, id) end
redis.call('SADD', P .. 'a:' .. acct, id)
redis.call('ZADD', P .. 'exp', ea, id)
expire_all(id, tk, lh, ch, acct, ea)
return 'ok'
`)

// ARGV: P, GRACE, kind ("s" by id, "l" login hash, "c" cookie hash), key.
// Returns the record's fields (flat) or nil.
var scriptGet = redis.NewScript(luaLib + `
local kind, key = ARGV[3], ARGV[4]
local id = key
if kind ~= 's' then
  id = redis.call('GET', P .. kind .. ':' .. key)
  if not id then return nil end
end
local h = redis.call('HGETALL', rkey(id))
if #h == 0 then return nil end
return h
`)

// ARGV: P, GRACE, id, cookie hex ("" for none), now ms, expires ms.
// Returns {"ok", fields} or {reason}: notfound, consumed, expired, exists.
var scriptConsume = redis.NewScript(luaLib + `
local id, chn, now, ea = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local rk = rkey(id)
local v = redis.call('HMGET', rk, 'c', 'ea', 'tk', 'lh', 'ch', 'a')
if not v[1] then return {'notfound'} end
if v[1] == '1' then return {'consumed'} end
if tonumber(v[2]) <= tonumber(now) then return {'expired'} end
if chn ~= '' and chn ~= v[5] and taken(P .. 'c:' .. chn) then return {'exists'} end
if v[5] ~= '' and v[5] ~= chn then delidx(P .. 'c:' .. v[5], id) end
redis.call('HSET', rk, 'c', '1', 'ch', chn, 'lu', now, 'ea', ea)
if chn ~= '' then redis.call('SET', P .. 'c:' .. chn, id) end
redis.call('ZADD', P .. 'exp', ea, id)
expire_all(id, v[3], v[4], chn, v[6], ea)
return {'ok', redis.call('HGETALL', rk)}
`)

// ARGV: P, GRACE, id, now ms, expires ms. Returns ok, notfound or expired.
var scriptTouch = redis.NewScript(luaLib + `
local id, now, ea = ARGV[3], ARGV[4], ARGV[5]
local rk = rkey(id)
local v = redis.call('HMGET', rk, 'ea', 'tk', 'lh', 'ch', 'a')
if not v[1] then return 'notfound' end
if tonumber(v[1]) <= tonumber(now) then return 'expired' end
redis.call('HSET', rk, 'lu', now, 'ea', ea)
redis.call('ZADD', P .. 'exp', ea, id)
expire_all(id, v[2], v[3], v[4], v[5], ea)
return 'ok'
`)

// ARGV: P, GRACE, id. Returns changed, unchanged or notfound.
var scriptMarkTemp = redis.NewScript(luaLib + `
local rk = rkey(ARGV[3])
local v = redis.call('HGET', rk, 'tc')
if not v then return 'notfound' end
if v == '1' then return 'unchanged' end
redis.call('HSET', rk, 'tc', '1')
return 'changed'
`)

// ARGV: P, GRACE, id. Returns the removed record's fields or nil.
var scriptDelete = redis.NewScript(luaLib + `
return drop(ARGV[3])
`)

// ARGV: P, GRACE, account, user ("" for all). Returns the removed
// records' fields. Ids whose record is gone (expired natively) leave the
// account's set.
var scriptDeleteByAccount = redis.NewScript(luaLib + `
local acct, user = ARGV[3], ARGV[4]
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', P .. 'a:' .. acct)) do
  local u = redis.call('HGET', rkey(id), 'u')
  if not u then
    redis.call('SREM', P .. 'a:' .. acct, id)
    redis.call('ZREM', P .. 'exp', id)
  elseif user == '' or u == user then
    out[#out + 1] = drop(id)
  end
end
return out
`)

// ARGV: P, GRACE, now ms, limit. Removes up to limit records expired at
// now, earliest first; returns {ids looked at, records}. Ids whose record
// is gone (expired natively) are forgotten without being returned.
var scriptSweep = redis.NewScript(luaLib + `
local ids = redis.call('ZRANGEBYSCORE', P .. 'exp', '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(ids) do
  local h = drop(id)
  if h then out[#out + 1] = h else redis.call('ZREM', P .. 'exp', id) end
end
return {#ids, out}
`)

// ---- attempt counters (see Attempts for the layout) ----
//
// These scripts name in KEYS every key they touch, but Sweep's, which
// derives keys from the index members (as the session scripts do).

// luaNow returns the server's time in ms.
const luaNow = `
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// KEYS: failures, block, failure index, block index. ARGV: now ms, window
// ms, unique member, expiry of the failures in ms (window plus slack),
// most failures kept, the key's index member. Forgets the failures at or
// before now-window, adds one at now, keeps the newest, indexes the key
// by its oldest failure, and forgets the block if its forget time has
// passed at now. Returns {failures, block until ("" when none), strikes}.
var scriptFailure = redis.NewScript(`
local now, window, m = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[6]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[5]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local n = redis.call('ZCARD', KEYS[1])
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
redis.call('ZADD', KEYS[3], first[2], m)
local b = redis.call('HMGET', KEYS[2], 'until', 'strikes', 'forget')
if not b[2] then return {n, '', 0} end
if b[3] and tonumber(b[3]) <= now then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[4], m)
  return {n, '', 0}
end
return {n, b[1] or '', tonumber(b[2])}
`)

// KEYS: failures, block, failure index, block index. ARGV: expected
// strikes, until ms, forget ms, slack ms, the key's index member. If the
// key's strikes (0 when it has no block) are the expected ones: sets
// until, strikes+1 and forget, indexes the block by forget, deletes the
// failures, and expires the block at forget (server time, at least now)
// plus slack. Returns 1 if it did, 0 if not.
var scriptBlock = redis.NewScript(luaNow + `
local m = ARGV[5]
local cur = tonumber(redis.call('HGET', KEYS[2], 'strikes') or '0')
if cur ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], 'until', ARGV[2], 'strikes', string.format('%d', cur + 1), 'forget', ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[3], m)
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], m)
local at = math.max(tonumber(ARGV[3]), nowms()) + tonumber(ARGV[4])
redis.call('PEXPIREAT', KEYS[2], string.format('%.0f', at))
return 1
`)

// KEYS: blocks. ARGV: now ms. Returns, for each key, the end of its block
// if it is after now, else "".
var scriptBlockedUntil = redis.NewScript(`
local now = tonumber(ARGV[1])
local out = {}
for i, k in ipairs(KEYS) do
  local u = redis.call('HGET', k, 'until')
  if u and tonumber(u) > now then out[i] = u else out[i] = '' end
end
return out
`)

// KEYS: trust, trust index. ARGV: until ms, slack ms, the trust's index
// member. Sets the trust's end, indexes it by its end, and expires it then
// (server time, at least now) plus slack.
var scriptTrust = redis.NewScript(luaNow + `
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
local at = math.max(tonumber(ARGV[1]), nowms()) + tonumber(ARGV[2])
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', at))
return 1
`)

// ARGV: P, now ms, cut ms (now-keep), batch. Takes up to batch members of
// each index whose score is at or before its limit: for the failure index
// (cut) it drops the key's failures at or before cut and re-indexes the
// key by its oldest failure left (or drops it from the index); for the
// block index (now) it deletes the blocks whose forget time is at or
// before now; for the trust index (now) the trusts whose end is. Members
// whose key Redis already dropped leave their index. Returns 1 if a batch
// was full (call again), else 0.
var scriptSweepAttempts = redis.NewScript(`
local P, now, cut, n = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local fidx, bidx, tidx = P .. 'att:idx:f', P .. 'att:idx:b', P .. 'att:idx:t'
local full = 0
local ms = redis.call('ZRANGEBYSCORE', fidx, '-inf', cut, 'LIMIT', 0, n)
if #ms == n then full = 1 end
for _, m in ipairs(ms) do
  local k = P .. 'att:' .. m .. ':f'
  redis.call('ZREMRANGEBYSCORE', k, '-inf', cut)
  local first = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
  if #first == 0 then redis.call('ZREM', fidx, m) else redis.call('ZADD', fidx, first[2], m) end
end
ms = redis.call('ZRANGEBYSCORE', bidx, '-inf', ARGV[2], 'LIMIT', 0, n)
if #ms == n then full = 1 end
for _, m in ipairs(ms) do
  local k = P .. 'att:' .. m .. ':b'
  local f = redis.call('HGET', k, 'forget')
  if f and tonumber(f) > now then
    redis.call('ZADD', bidx, f, m)
  else
    redis.call('DEL', k)
    redis.call('ZREM', bidx, m)
  end
end
ms = redis.call('ZRANGEBYSCORE', tidx, '-inf', ARGV[2], 'LIMIT', 0, n)
if #ms == n then full = 1 end
for _, m in ipairs(ms) do
  local k = P .. 'att:trust:' .. m
  local u = redis.call('GET', k)
  if u and tonumber(u) > now then
    redis.call('ZADD', tidx, u, m)
  else
    redis.call('DEL', k)
    redis.call('ZREM', tidx, m)
  end
end
return full
`)
