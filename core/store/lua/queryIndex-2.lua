--[[
  Query a stream's index and return the matching elements' metadata in one round trip, after
  trimming entries whose elements have expired. O(log n + k).

  KEYS[1] index sorted set   <p>:{c}:s<i>:index   (score = pts)
  KEYS[2] expiry sorted set  <p>:{c}:s<i>:expiry  (score = expiry time in ms)

  ARGV[1] element key prefix  <p>:{c}:s<i>:       (metadata key = prefix .. member)
  ARGV[2] mode, then its arguments:
    'score'  min max offset limit   elements with min <= pts <= max (offset < 0 counts from the end)
    'rank'   from to offset limit   elements with from <= rank <= to (0-based; -1 = last)
    'near'   pts                    the element nearest pts, the earlier one on a tie (clamps to first/last)
    'nearFrom' pts max offset limit elements from the one nearest pts up to max inclusive (a fuzzy range)
    'atOrBefore' pts                the element with the greatest pts <= given pts
    'covering' pts                  the element presented at pts: at or before it, unless it is the last
                                    element and its duration (duration, else pkt_duration) ends at or before pts
    'after'  pts n                  the n-th element with pts > given pts
    'before' pts n                  the n-th element with pts < given pts

  Returns a flat array: member1, json1, sizes1, member2, … (sizes '' when absent).
  Elements whose metadata has already expired are skipped.
]]
--#include trimExpired.lua
local index, expiry, prefix, mode = KEYS[1], KEYS[2], ARGV[1], ARGV[2]

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
trimExpired(index, expiry, now, 1024)

-- The element nearest pts (the earlier on a tie) and its score, or nil.
local function nearest(pts)
  local before = redis.call('ZREVRANGEBYSCORE', index, pts, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  local after = redis.call('ZRANGEBYSCORE', index, pts, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #before > 0 and #after > 0 then
    if pts - tonumber(before[2]) <= tonumber(after[2]) - pts then return before[1], before[2] end
    return after[1], after[2]
  elseif #before > 0 then return before[1], before[2]
  elseif #after > 0 then return after[1], after[2] end
  return nil, nil
end

-- Members with min <= score <= max, paged (offset < 0 counts from the end).
local function byScore(min, max, offset, limit)
  if offset < 0 then
    local total = redis.call('ZCOUNT', index, min, max)
    offset = math.max(0, total + offset)
  end
  return redis.call('ZRANGEBYSCORE', index, min, max, 'LIMIT', offset, limit)
end

local members = {}
if mode == 'score' then
  members = byScore(ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
elseif mode == 'nearFrom' then
  local m, score = nearest(tonumber(ARGV[3]))
  if m and tonumber(score) <= tonumber(ARGV[4]) then
    members = byScore(score, ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
  end
elseif mode == 'rank' then
  local total = redis.call('ZCARD', index)
  local from, to, offset, limit = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  if from < 0 then from = total + from end
  if to < 0 then to = total + to end
  if to >= total then to = total - 1 end
  if from < 0 then from = 0 end
  if from <= to and total > 0 then
    local count = to - from + 1
    if offset < 0 then offset = math.max(0, count + offset) end
    local first = from + offset
    local last = math.min(to, first + limit - 1)
    if first <= last then members = redis.call('ZRANGE', index, first, last) end
  end
elseif mode == 'near' then
  local m = nearest(tonumber(ARGV[3]))
  if m then members = { m } end
elseif mode == 'atOrBefore' then
  members = redis.call('ZREVRANGEBYSCORE', index, ARGV[3], '-inf', 'LIMIT', 0, 1)
elseif mode == 'covering' then
  local pts = tonumber(ARGV[3])
  local at = redis.call('ZREVRANGEBYSCORE', index, pts, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #at > 0 then
    local start = tonumber(at[2])
    local later = redis.call('ZRANGEBYSCORE', index, '(' .. ARGV[3], '+inf', 'LIMIT', 0, 1)
    if start == pts or #later > 0 then
      members = { at[1] }
    else
      local json = redis.call('HGET', prefix .. at[1], 'json')
      local ok, meta = pcall(cjson.decode, json or 'null')
      local d = 0
      if ok and type(meta) == 'table' then d = tonumber(meta.duration) or tonumber(meta.pkt_duration) or 0 end
      if pts < start + d then members = { at[1] } end
    end
  end
elseif mode == 'after' then
  members = redis.call('ZRANGEBYSCORE', index, '(' .. ARGV[3], '+inf', 'LIMIT', tonumber(ARGV[4]) - 1, 1)
elseif mode == 'before' then
  members = redis.call('ZREVRANGEBYSCORE', index, '(' .. ARGV[3], '-inf', 'LIMIT', tonumber(ARGV[4]) - 1, 1)
else
  return redis.error_reply('ERR queryIndex: unknown mode ' .. tostring(mode))
end

local out = {}
for _, m in ipairs(members) do
  local fields = redis.call('HMGET', prefix .. m, 'json', 'sizes')
  if fields[1] then
    out[#out + 1] = m
    out[#out + 1] = fields[1]
    out[#out + 1] = fields[2] or ''
  end
end
return out
