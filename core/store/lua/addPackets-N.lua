--[[
  Ingest batch: index many packets of one stream at once. The payloads are written by plain
  `SET <data key> <bytes> NX PX <ttl>` commands queued in the same MULTI/EXEC before this script (so payload
  bytes never pass through Lua), which makes the whole batch atomic. Per packet: metadata hash with the
  same TTL, index entry, expiry entry; once per batch: the index and expiry keys' TTLs and trimming of
  entries that fell out of the window (their metadata and payload keys unlinked with them).

  Published media is immutable. A packet whose member is already indexed keeps its first metadata and bytes
  (the payload SET is NX). A packet that would land in an announced segment or part (dts below the
  content's sealed point, KEYS[3] field `endDts`: the end of the closed segment before the newest closed one,
  see writeBoundaries) or whose pts is at or below the highest pts of the stream's cold index (archived time) is
  refused: it is not indexed, and its payload key, which no index entry names, is removed.

  KEYS[1] index sorted set   <p>:{c}:s<i>:index
  KEYS[2] expiry sorted set  <p>:{c}:s<i>:expiry
  KEYS[3] sealed hash        <p>:{c}:sealed  (may not exist: nothing is sealed)
  KEYS[4] cold index         <p>:{c}:s<i>:cold  (may not exist: nothing archived)

  ARGV[1] element key prefix <p>:{c}:s<i>:   (metadata key = prefix .. member, payload = that .. ':data')
  ARGV[2] time-to-live in ms (> 0)
  ARGV[3 ..] quadruples: member, pts, dts, metadata JSON

  Returns {indexed, refused, duplicates}.
]]
--#include trimExpired.lua
--#include coldIndex.lua
local prefix, ttl = ARGV[1], tonumber(ARGV[2])
local _, lastCold = coldEnds(KEYS[4])
local coldMax = lastCold and lastCold.maxPts
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sealed = tonumber(redis.call('HGET', KEYS[3], 'endDts'))
local n, refused, dup = 0, 0, 0
for i = 3, #ARGV, 4 do
  local member, pts, dts, json = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local key = prefix .. member
  if redis.call('ZSCORE', KEYS[1], member) then
    dup = dup + 1
  elseif (sealed and dts < sealed) or (coldMax and tonumber(pts) <= coldMax) then
    refused = refused + 1
    redis.call('DEL', key .. ':data')
  else
    redis.call('HSET', key, 'json', json)
    redis.call('PEXPIRE', key, ttl)
    redis.call('ZADD', KEYS[1], pts, member)
    redis.call('ZADD', KEYS[2], now + ttl, member)
    n = n + 1
  end
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
trimExpired(KEYS[1], KEYS[2], prefix, now, 1024)
return {n, refused, dup}
