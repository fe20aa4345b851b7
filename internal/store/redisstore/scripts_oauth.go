package redisstore

import "github.com/redis/go-redis/v9"

// The OAuth scripts run atomically on the Redis server, like the session
// scripts, with the same two first arguments (P, the key prefix, and
// GRACE). Layout under P:
//
//	P o:c:<hex hash>   hash: an authorization code: s (session id), cl
//	                   (client id), ru (redirect URI), ch (PKCE
//	                   challenge), u ("0"/"1": used), ca, ea (created and
//	                   expires, Unix ms)
//	P o:t:<hex hash>   hash: a token: k (kind), s, cl, g (hex hash of the
//	                   code it descends from), ca, ea
//	P o:s:<session id> set: the session's codes and tokens, as "c:<hex>"
//	                   and "t:<hex>"
//	P o:g:<hex grant>  set: hex hashes of the tokens of one grant
//	P o:exp            sorted set: "c:<hex>" and "t:<hex>" by expiry (ms)
//
// A record expires natively at the later of its expiry and the server's
// now, plus the grace period; its session's and grant's sets live at
// least as long. Sweep walks P o:exp; members whose record Redis already
// dropped leave the index without being counted. No session key starts
// with "o:".

const luaOAuthLib = `
local P = ARGV[1]
local GRACE = tonumber(ARGV[2])
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- expire_at sets key k to expire at ea (ms) or now, plus GRACE; keep
-- (true for the index sets) only ever moves the expiry later.
local function expire_at(k, ea, keep)
  local atn = math.max(tonumber(ea), nowms()) + GRACE
  if keep then
    local ttl = redis.call('PTTL', k)
    if ttl >= 0 and nowms() + ttl >= atn then return end
  end
  redis.call('PEXPIREAT', k, string.format('%.0f', atn))
end
-- drop deletes the record named by the index member m ("c:<hex>" or
-- "t:<hex>") with its index entries; it returns the record's kind ('c',
-- 'access', 'refresh') or nil when it was gone already.
local function drop(m)
  local kind, h = string.sub(m, 1, 1), string.sub(m, 3)
  local rk = P .. 'o:' .. kind .. ':' .. h
  local v = redis.call('HMGET', rk, 's', 'g', 'k')
  redis.call('ZREM', P .. 'o:exp', m)
  if not v[1] then return nil end
  redis.call('DEL', rk)
  redis.call('SREM', P .. 'o:s:' .. v[1], m)
  if kind == 't' then
    redis.call('SREM', P .. 'o:g:' .. v[2], h)
    return v[3]
  end
  return 'c'
end
`

// ARGV: P, GRACE, hex, session id, expires ms, field/value pairs.
// Returns "ok" or "exists".
var scriptCreateCode = redis.NewScript(luaOAuthLib + `
local h, sid, ea = ARGV[3], ARGV[4], ARGV[5]
local rk = P .. 'o:c:' .. h
if redis.call('EXISTS', rk) == 1 then return 'exists' end
redis.call('HSET', rk, unpack(ARGV, 6))
redis.call('SADD', P .. 'o:s:' .. sid, 'c:' .. h)
redis.call('ZADD', P .. 'o:exp', ea, 'c:' .. h)
expire_at(rk, ea, false)
expire_at(P .. 'o:s:' .. sid, ea, true)
return 'ok'
`)

// ARGV: P, GRACE, hex, now ms. Returns {"ok", fields} or {reason}:
// notfound, consumed, expired.
var scriptConsumeCode = redis.NewScript(luaOAuthLib + `
local rk = P .. 'o:c:' .. ARGV[3]
local v = redis.call('HMGET', rk, 'u', 'ea')
if not v[1] then return {'notfound'} end
if v[1] == '1' then return {'consumed'} end
if tonumber(v[2]) <= tonumber(ARGV[4]) then return {'expired'} end
redis.call('HSET', rk, 'u', '1')
return {'ok', redis.call('HGETALL', rk)}
`)

// ARGV: P, GRACE, hex, session id, grant hex, expires ms, field/value
// pairs. Returns "ok" or "exists".
var scriptCreateToken = redis.NewScript(luaOAuthLib + `
local h, sid, g, ea = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local rk = P .. 'o:t:' .. h
if redis.call('EXISTS', rk) == 1 then return 'exists' end
redis.call('HSET', rk, unpack(ARGV, 7))
redis.call('SADD', P .. 'o:s:' .. sid, 't:' .. h)
redis.call('SADD', P .. 'o:g:' .. g, h)
redis.call('ZADD', P .. 'o:exp', ea, 't:' .. h)
expire_at(rk, ea, false)
expire_at(P .. 'o:s:' .. sid, ea, true)
expire_at(P .. 'o:g:' .. g, ea, true)
return 'ok'
`)

// ARGV: P, GRACE, session ids. Removes the sessions' codes and tokens;
// returns how many tokens.
var scriptDeleteSessionOAuth = redis.NewScript(luaOAuthLib + `
local n = 0
for i = 3, #ARGV do
  local sk = P .. 'o:s:' .. ARGV[i]
  for _, m in ipairs(redis.call('SMEMBERS', sk)) do
    local kind = drop(m)
    if kind == 'access' or kind == 'refresh' then n = n + 1 end
  end
  redis.call('DEL', sk)
end
return n
`)

// ARGV: P, GRACE, grant hex. Removes the grant's tokens; returns how many.
var scriptDeleteGrant = redis.NewScript(luaOAuthLib + `
local gk = P .. 'o:g:' .. ARGV[3]
local n = 0
for _, h in ipairs(redis.call('SMEMBERS', gk)) do
  if drop('t:' .. h) then n = n + 1 end
end
redis.call('DEL', gk)
return n
`)

// ARGV: P, GRACE, now ms, limit. Removes up to limit records expired at
// now, earliest first; returns {members looked at, records removed}.
var scriptSweepOAuth = redis.NewScript(luaOAuthLib + `
local ms = redis.call('ZRANGEBYSCORE', P .. 'o:exp', '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
local n = 0
for _, m in ipairs(ms) do
  if drop(m) then n = n + 1 end
end
return {#ms, n}
`)
