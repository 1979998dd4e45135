--[[
  Write a media element's payload. The metadata must exist first (as the original engine requires);
  the payload gets the metadata's remaining time-to-live so both expire together.

  KEYS[1] element metadata hash   <p>:{c}:s<i>:<member>
  KEYS[2] payload string          <p>:{c}:s<i>:<member>:data
  KEYS[3] cold index              <p>:{c}:s<i>:cold       (archived time: refused)

  ARGV[1] payload bytes
  ARGV[2] plane: -1 for the whole payload, N to replace plane N of a multi-plane frame
  ARGV[3] plane sizes JSON for a whole payload ('' = one plane)
  ARGV[4] the element's pts

  Returns {stored payload size, 1 when the payload was created or 0 when it replaced one}, or
    -1  no metadata for the element
    -2  plane out of range (or no payload stored yet to take a plane into)
    -3  pts lies in the stream's archived time (archived media is immutable)
]]
--#include coldIndex.lua
local firstE, lastE = coldEnds(KEYS[3])
local pts = tonumber(ARGV[4])
if firstE and pts >= firstE.minPts and pts <= lastE.maxPts then return -3 end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local created = redis.call('EXISTS', KEYS[2]) == 0 and 1 or 0
local plane = tonumber(ARGV[2])
local value = ARGV[1]
if plane >= 0 then
  local sizesJson = redis.call('HGET', KEYS[1], 'sizes')
  local current = redis.call('GET', KEYS[2])
  local sizes
  if sizesJson then sizes = cjson.decode(sizesJson) elseif current then sizes = { string.len(current) } else sizes = {} end
  if current == false then
    if plane ~= 0 then return -2 end
    current = ''
    sizes = { 0 }
  end
  if plane >= #sizes then return -2 end
  local offset = 0
  for i = 1, plane do offset = offset + sizes[i] end
  local before = string.sub(current, 1, offset)
  local after = string.sub(current, offset + sizes[plane + 1] + 1)
  sizes[plane + 1] = string.len(ARGV[1])
  value = before .. ARGV[1] .. after
  redis.call('HSET', KEYS[1], 'sizes', cjson.encode(sizes))
elseif ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'sizes', ARGV[3])
else
  redis.call('HDEL', KEYS[1], 'sizes')
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('SET', KEYS[2], value, 'PX', ttl)
else
  redis.call('SET', KEYS[2], value)
end
return { string.len(value), created }
