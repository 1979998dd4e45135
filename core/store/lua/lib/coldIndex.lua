-- Shared by the store's scripts (spliced in by `--#include coldIndex.lua`, see core/store/scripts.ts): the cold
-- index of a stream (core/store/cold-index.ts), entries `<segment>|<minPts>|<maxPts>|<count>|<cum>|<expMs>|<endDts>|<tag>`
-- in two sorted sets (KEYS cold: score = minPts; coldrank: score = cum).
-- parseCold(member): the entry as a table (numbers, and minS/maxS as written), nil when malformed.
-- coldEnds(cold): the first and the last entry (nil, nil when the stream has none).
-- trimCold(cold, coldrank, now, limit): remove up to `limit` entries from the front whose expiry has passed.
-- dropColdFront(cold, coldrank, limit, leaves): the front removal both use.
local function parseCold(m)
  local seg, minS, maxS, count, cum, exp, endS = string.match(m, '^(%d+)|(%-?%d+)|(%-?%d+)|(%d+)|(%d+)|(%d+)|(%-?%d+)|%x*$')
  if not seg then return nil end
  return { member = m, seg = seg, minS = minS, maxS = maxS, minPts = tonumber(minS), maxPts = tonumber(maxS),
    count = tonumber(count), cum = tonumber(cum), exp = tonumber(exp), endS = endS }
end

local function coldEnds(cold)
  local first = redis.call('ZRANGE', cold, 0, 0)
  if #first == 0 then return nil, nil end
  local last = redis.call('ZRANGE', cold, -1, -1)
  local a, b = parseCold(first[1]), parseCold(last[1])
  if not a or not b then error('cold index ' .. cold .. ' holds a malformed entry') end
  return a, b
end

-- dropColdFront(cold, coldrank, limit, leaves): remove entries from the front while leaves(entry) holds, at most
-- `limit` of them (a page at a time); returns how many.
local function dropColdFront(cold, coldrank, limit, leaves)
  local removed = 0
  while removed < limit do
    local page = redis.call('ZRANGE', cold, 0, math.min(63, limit - removed - 1))
    local front = {}
    for _, m in ipairs(page) do
      local e = parseCold(m)
      if not e or not leaves(e) then break end
      front[#front + 1] = m
    end
    if #front > 0 then
      redis.call('ZREM', cold, unpack(front))
      redis.call('ZREM', coldrank, unpack(front))
      removed = removed + #front
    end
    if #front == 0 or #front < #page then break end
  end
  return removed
end

local function trimCold(cold, coldrank, now, limit)
  return dropColdFront(cold, coldrank, limit, function(e) return e.exp > 0 and e.exp <= now end)
end
