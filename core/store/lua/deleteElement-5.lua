--[[
  Delete one media element: metadata, payload, index and expiry entries.

  KEYS[1] element metadata hash, KEYS[2] payload, KEYS[3] index, KEYS[4] expiry, KEYS[5] cold index
  ARGV[1] member
  ARGV[2] its pts

  Returns 1 when the element existed, 0 otherwise, -3 when pts lies in the stream's archived time (archived media
  is immutable).
]]
--#include coldIndex.lua
local firstE, lastE = coldEnds(KEYS[5])
local pts = tonumber(ARGV[2])
if firstE and pts >= firstE.minPts and pts <= lastE.maxPts then return -3 end
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
local indexed = redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
if existed > 0 or indexed > 0 then return 1 end
return 0
