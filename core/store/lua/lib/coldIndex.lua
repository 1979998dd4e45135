-- Shared by the store's scripts (spliced in by `--#include coldIndex.lua`, see core/store/scripts.ts): the cold
-- index of a stream (core/store/cold-index.ts), entries `<segment>|<minPts>|<maxPts>|<count>|<cum>|<expMs>|<endDts>|<tag>`
-- in two sorted sets (KEYS cold: score = minPts; coldrank: score = cum).
-- parseCold(member): the entry as a table (numbers, and minS/maxS as written), nil when malformed.
-- coldEnds(cold): the first and the last entry (nil, nil when the stream has none).
-- trimCold(cold, coldrank, now, limit): remove up to `limit` entries from the front whose expiry has passed.
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

local function trimCold(cold, coldrank, now, limit)
  local front = redis.call('ZRANGE', cold, 0, limit - 1)
  local expired = {}
  for _, m in ipairs(front) do
    local e = parseCold(m)
    if e and e.exp > 0 and e.exp <= now then expired[#expired + 1] = m else break end
  end
  if #expired > 0 then
    redis.call('ZREM', cold, unpack(expired))
    redis.call('ZREM', coldrank, unpack(expired))
  end
end
