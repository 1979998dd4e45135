--[[
  Ingest batch: index many packets of one stream at once. The payloads are written by plain
  `SET <data key> <bytes> PX <ttl>` commands queued in the same MULTI/EXEC as this script (so payload
  bytes never pass through Lua), which makes the whole batch atomic. Per packet: metadata hash with the
  same TTL, index entry, expiry entry; once per batch: the index and expiry keys' TTLs and trimming of
  entries that fell out of the window.

  KEYS[1] index sorted set   <p>:{c}:s<i>:index
  KEYS[2] expiry sorted set  <p>:{c}:s<i>:expiry

  ARGV[1] element key prefix <p>:{c}:s<i>:   (metadata key = prefix .. member)
  ARGV[2] time-to-live in ms (> 0)
  ARGV[3 ..] triples: member, pts, metadata JSON

  Returns the number of packets indexed.
]]
--#include trimExpired.lua
local prefix, ttl = ARGV[1], tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = 0
for i = 3, #ARGV, 3 do
  local member, pts, json = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = prefix .. member
  redis.call('HSET', key, 'json', json)
  redis.call('PEXPIRE', key, ttl)
  redis.call('ZADD', KEYS[1], pts, member)
  redis.call('ZADD', KEYS[2], now + ttl, member)
  n = n + 1
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
trimExpired(KEYS[1], KEYS[2], now, 1024)
return n
