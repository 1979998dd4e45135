--[[
  Ingest batch: index the packets of one content item, of every stream in the batch, in one call. The payloads are
  written by plain `SET <data key> <bytes> NX PX <ttl>` commands sent just before this script in the same write (so
  payload bytes never pass through Lua). Per packet: metadata hash with the same TTL, index entry, expiry entry; once
  per stream: the index and expiry keys' TTLs and trimming of entries that fell out of the window (their metadata
  and payload keys unlinked with them).

  Published media is immutable. A packet whose member is already indexed keeps its first metadata and bytes
  (the payload SET is NX). A packet that would land in an announced segment or part (dts below the
  content's sealed point, KEYS[1] field `endDts`: the end of the closed segment before the newest closed one,
  see writeBoundaries) or whose pts is at or below the highest pts of the stream's cold index (archived time) is
  refused: it is not indexed, and its payload key, which no index entry names, is removed.

  The key count varies with the streams (`-N`: ioredis is given it first): 1 + 3 per stream.
  KEYS[1]                  sealed hash        <p>:{c}:sealed  (may not exist: nothing is sealed)
  per stream, from KEYS[2]: index sorted set  <p>:{c}:s<i>:index
                           expiry sorted set  <p>:{c}:s<i>:expiry
                           cold index         <p>:{c}:s<i>:cold  (may not exist: nothing archived)

  ARGV[1] time-to-live in ms (> 0)
  per stream, in the order of its keys: element key prefix <p>:{c}:s<i>: (metadata key = prefix .. member, payload =
  that .. ':data'), the number of its packets, then that many quadruples: member, pts, dts, metadata JSON

  Returns {indexed, refused, duplicates} over all streams.
]]
--#include trimExpired.lua
--#include coldIndex.lua
local ttlArg = ARGV[1]
local ttl = tonumber(ttlArg)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Written as text once: a Lua number handed to redis.call is formatted with printf for every call.
local expAt = string.format('%d', now + ttl)
local sealed = tonumber(redis.call('HGET', KEYS[1], 'endDts'))
if #KEYS < 4 or (#KEYS - 1) % 3 ~= 0 then error('addPackets: KEYS is the sealed hash and three keys per stream, not ' .. #KEYS) end
local n, refused, dup = 0, 0, 0
local a = 2
for k = 2, #KEYS, 3 do
  local index, exp, cold = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  local prefix, count = ARGV[a], tonumber(ARGV[a + 1])
  if not prefix or not count then error('addPackets: ARGV holds no prefix and count for the stream of ' .. index) end
  local _, lastCold = coldEnds(cold)
  local coldMax = lastCold and lastCold.maxPts
  for i = a + 2, a + 1 + 4 * count, 4 do
    local member, pts, dts, json = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
    local key = prefix .. member
    if redis.call('ZSCORE', index, member) then
      dup = dup + 1
    elseif (sealed and dts < sealed) or (coldMax and tonumber(pts) <= coldMax) then
      refused = refused + 1
      redis.call('DEL', key .. ':data')
    else
      redis.call('HSET', key, 'json', json)
      redis.call('PEXPIRE', key, ttlArg)
      redis.call('ZADD', index, pts, member)
      redis.call('ZADD', exp, expAt, member)
      n = n + 1
    end
  end
  redis.call('PEXPIRE', index, ttlArg)
  redis.call('PEXPIRE', exp, ttlArg)
  trimExpired(index, exp, prefix, now, 1024)
  a = a + 2 + 4 * count
end
if a ~= #ARGV + 1 then error('addPackets: ' .. (#ARGV + 1 - a) .. ' arguments beyond the streams of KEYS') end
return {n, refused, dup}
