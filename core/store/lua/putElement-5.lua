--[[
  Write one media element: metadata, optionally its payload, its index entry and its expiry entry,
  and trim index entries whose elements have expired (unlinking those elements' keys). Metadata, payload and
  index entry expire together.

  KEYS[1] element metadata hash   <p>:{c}:s<i>:<member>
  KEYS[2] payload string          <p>:{c}:s<i>:<member>:data
  KEYS[3] index sorted set        <p>:{c}:s<i>:index      (score = pts)
  KEYS[4] expiry sorted set       <p>:{c}:s<i>:expiry     (score = expiry time in ms)
  KEYS[5] cold index              <p>:{c}:s<i>:cold       (archived time: refused)

  ARGV[1] member (e.g. packet_108000)
  ARGV[2] pts
  ARGV[3] metadata JSON
  ARGV[4] time-to-live in ms (0 = never expires)
  ARGV[5] '1' when ARGV[6] is a payload to store, '0' for metadata only
  ARGV[6] payload bytes
  ARGV[7] plane sizes JSON for a payload ('' = one plane)

  Returns 1 when the element was created, 0 when it was updated, -3 when pts lies in the stream's archived time
  (from the lowest to the highest pts of its cold index: archived media is immutable).
]]
--#include trimExpired.lua
--#include coldIndex.lua
local member, pts, json, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
-- The stream's element key prefix (KEYS[1] is it followed by the member), for the trim below.
local prefix = string.sub(KEYS[1], 1, #KEYS[1] - #member)
if prefix .. member ~= KEYS[1] then error('putElement: the metadata key ' .. KEYS[1] .. ' does not end with the member ' .. member) end
local firstE, lastE = coldEnds(KEYS[5])
if firstE and tonumber(pts) >= firstE.minPts and tonumber(pts) <= lastE.maxPts then return -3 end
local created = redis.call('EXISTS', KEYS[1]) == 0 and 1 or 0

redis.call('HSET', KEYS[1], 'json', json)
if ARGV[5] == '1' then
  redis.call('SET', KEYS[2], ARGV[6])
  if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'sizes', ARGV[7]) else redis.call('HDEL', KEYS[1], 'sizes') end
end
redis.call('ZADD', KEYS[3], pts, member)

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  if ARGV[5] == '1' then redis.call('PEXPIRE', KEYS[2], ttl) end
  redis.call('ZADD', KEYS[4], now + ttl, member)
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('PEXPIRE', KEYS[4], ttl)
else
  redis.call('PERSIST', KEYS[1])
  if ARGV[5] == '1' then redis.call('PERSIST', KEYS[2]) end
  redis.call('ZREM', KEYS[4], member)
  redis.call('PERSIST', KEYS[3])
end

-- Trim what fell out of the window (bounded work per write).
trimExpired(KEYS[3], KEYS[4], prefix, now, 256)
return created
