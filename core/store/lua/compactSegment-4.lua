--[[
  Compaction: the elements of one archived segment object leave the hot index for the cold index, all or nothing.
  Their index and expiry members, element hashes and payload keys are removed and one cold entry is added for the
  object (core/store/cold-index.ts), only when everything is still as it was when the object was written:
  every element is indexed at its pts, its metadata exists (or, for one passed as gone, no longer exists), its
  payload key holds exactly the bytes written into the object (or, for one archived without payload, there is
  none), the elements lie above the cold index, and no other element is indexed in their range (from just above
  the cold index, or from the lowest of them when it is empty, to the highest). Otherwise nothing changes: the
  archiver writes the object again at its next pass (nothing refers to it yet).

  KEYS[1] index sorted set     <p>:{c}:s<i>:index
  KEYS[2] expiry sorted set    <p>:{c}:s<i>:expiry
  KEYS[3] cold index           <p>:{c}:s<i>:cold
  KEYS[4] cold rank index      <p>:{c}:s<i>:coldrank

  ARGV[1] element key prefix   <p>:{c}:s<i>:   (metadata key = prefix .. member, payload = that .. ':data')
  ARGV[2] segment index
  ARGV[3] end dts of the segment's latest packet (dts + duration)
  ARGV[4] the object's tag
  ARGV[5 ..] triples: member, pts, size (>= 0: the payload's size in the object; -1: archived without payload;
             -2: gone, its metadata has expired: only its index entry is removed)

  Returns the number of elements now in the cold index for the segment (0 when all were gone), or
    -1  an element changed (payload rewritten or removed, metadata gone or back, not indexed at that pts)
    -2  the elements do not lie above the cold index
    -3  another element is indexed in their range
]]
--#include coldIndex.lua
local index, expiry, cold, coldrank = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, segment, endDts, tag = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local _, lastE = coldEnds(cold)
local members, keep = {}, 0
local minS, maxS, lowS, highS
for i = 5, #ARGV, 3 do
  local member, ptsS, size = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local pts = tonumber(ptsS)
  local score = redis.call('ZSCORE', index, member)
  if not score or tonumber(score) ~= pts then return -1 end
  local key = prefix .. member
  local hasMeta = redis.call('EXISTS', key) == 1
  if size == -2 then
    if hasMeta then return -1 end
  else
    if not hasMeta then return -1 end
    local data = key .. ':data'
    if size == -1 then
      if redis.call('EXISTS', data) == 1 then return -1 end
    elseif redis.call('STRLEN', data) ~= size or redis.call('EXISTS', data) == 0 then
      return -1
    end
    keep = keep + 1
    if not minS or pts < tonumber(minS) then minS = ptsS end
    if not maxS or pts > tonumber(maxS) then maxS = ptsS end
  end
  if not lowS or pts < tonumber(lowS) then lowS = ptsS end
  if not highS or pts > tonumber(highS) then highS = ptsS end
  members[#members + 1] = member
end
if #members == 0 then return 0 end
if lastE and tonumber(lowS) <= lastE.maxPts then return -2 end
local from = lastE and ('(' .. lastE.maxS) or lowS
if redis.call('ZCOUNT', index, from, highS) ~= #members then return -3 end

-- The entry expires when its last element would have (0: one of them never expires).
local exp, forever = 0, false
for i = 5, #ARGV, 3 do
  if tonumber(ARGV[i + 2]) ~= -2 then
    local e = redis.call('ZSCORE', expiry, ARGV[i])
    if not e then forever = true elseif tonumber(e) > exp then exp = tonumber(e) end
  end
end
if forever then exp = 0 end

for i = 1, #members, 500 do
  local page, keys = {}, {}
  for j = i, math.min(#members, i + 499) do
    page[#page + 1] = members[j]
    keys[#keys + 1] = prefix .. members[j]
    keys[#keys + 1] = prefix .. members[j] .. ':data'
  end
  redis.call('ZREM', index, unpack(page))
  redis.call('ZREM', expiry, unpack(page))
  redis.call('UNLINK', unpack(keys))
end
if keep == 0 then return 0 end

local cum = lastE and (lastE.cum + lastE.count) or 0
local entry = segment .. '|' .. minS .. '|' .. maxS .. '|' .. keep .. '|' .. string.format('%d', cum) .. '|' .. string.format('%d', exp) .. '|' .. endDts .. '|' .. tag
local had = redis.call('EXISTS', cold) == 1
local ttl = redis.call('PTTL', cold)
redis.call('ZADD', cold, minS, entry)
redis.call('ZADD', coldrank, cum, entry)
if exp == 0 then
  redis.call('PERSIST', cold)
  redis.call('PERSIST', coldrank)
elseif not had or ttl > 0 then
  local want = math.max(exp - now, ttl, 1000)
  redis.call('PEXPIRE', cold, want)
  redis.call('PEXPIRE', coldrank, want)
end
return keep
