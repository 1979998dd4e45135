--[[
  Read a stream's index over both tiers, after trimming what expired, in one atomic step. The stream is the sorted
  list  hot-below ++ cold ++ hot-above  (see core/store/cold-index.ts): hot elements are index members with their
  metadata; a cold entry stands for all the elements of one archived segment object, whose header the caller reads.
  The caller (core/store/tier-query.ts) turns each media_ref mode into scans or a rank window and finishes the
  answer from what this returns: the script returns at least what the answer needs, with at most one cold entry
  per scan end more than needed (an entry a pts bound falls inside is returned whole and not counted).

  KEYS[1] index sorted set     <p>:{c}:s<i>:index     (score = pts)
  KEYS[2] expiry sorted set    <p>:{c}:s<i>:expiry    (score = expiry time in ms)
  KEYS[3] cold index           <p>:{c}:s<i>:cold      (score = the entry's lowest pts)
  KEYS[4] cold rank index      <p>:{c}:s<i>:coldrank  (score = elements before the entry)

  ARGV[1] element key prefix   <p>:{c}:s<i>:          (metadata key = prefix .. member)
  ARGV[2] 'scan', then groups of five:
            direction  'f' (ascending from the bound) | 'b' (descending from the bound)
            inclusive  '1' (pts >= bound, or <= for 'b') | '0' (strictly)
            bound      a pts, '-inf' or '+inf'
            budget     how many elements at least (a cold entry counts its elements; one the bound falls inside, none)
            stop       a pts, '-inf' or '+inf': elements beyond it (above for 'f', below for 'b') are not wanted
          'rank', from, to, offset, limit: the elements with from <= rank <= to (0-based over both tiers; negative
          counts from the end), paged by offset (negative counts from the end of that window) and limit

  Returns, for 'scan': one array per scan, of items in scan order; for 'rank': {first, last, items} (the window's
  ranks, last < first when it is empty). An item is five values: kind ('h' hot element | 'c' cold entry), rank (its
  first element's rank over both tiers; -1 in scans), member or cold entry, metadata JSON ('' when the element's
  metadata has already expired), plane sizes JSON ('' when none).
]]
--#include trimExpired.lua
--#include coldIndex.lua
local index, expiry, cold, coldrank = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, op = ARGV[1], ARGV[2]

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
trimExpired(index, expiry, prefix, now, 1024)
trimCold(cold, coldrank, now, 16)

local function num(s)
  if s == '+inf' then return math.huge elseif s == '-inf' then return -math.huge end
  return tonumber(s)
end

local firstE, lastE = coldEnds(cold)

local function hot(out, members, rank0)
  for i, m in ipairs(members) do
    local f = redis.call('HMGET', prefix .. m, 'json', 'sizes')
    out[#out + 1] = 'h'
    out[#out + 1] = rank0 >= 0 and rank0 + i - 1 or -1
    out[#out + 1] = m
    out[#out + 1] = f[1] or ''
    out[#out + 1] = f[2] or ''
  end
  return #members
end

local function coldItem(out, e, rank)
  out[#out + 1] = 'c'
  out[#out + 1] = rank
  out[#out + 1] = e.member
  out[#out + 1] = ''
  out[#out + 1] = ''
end

-- Ascending from the bound: hot below the cold range, cold entries, hot above it.
local function forward(incl, boundS, budget, stopS)
  local out = {}
  local p, stop = num(boundS), num(stopS)
  local minSpec = incl and boundS or ('(' .. boundS)
  local left = budget
  if left <= 0 then return out end
  if not firstE then
    hot(out, redis.call('ZRANGEBYSCORE', index, minSpec, stopS, 'LIMIT', 0, left), -1)
    return out
  end
  local belowMax = stop < firstE.minPts and stopS or ('(' .. firstE.minS)
  left = left - hot(out, redis.call('ZRANGEBYSCORE', index, minSpec, belowMax, 'LIMIT', 0, left), -1)
  if left > 0 and stop >= firstE.minPts then
    local after = '-inf'
    local at = redis.call('ZREVRANGEBYSCORE', cold, boundS, '-inf', 'LIMIT', 0, 1)
    if #at > 0 then
      local e = parseCold(at[1])
      if incl and e.minPts >= p then
        coldItem(out, e, -1)
        left = left - e.count
      elseif e.maxPts > p or (incl and e.maxPts == p) then
        coldItem(out, e, -1) -- the bound falls inside: how many qualify is for the caller to count
      end
      after = '(' .. e.minS
    end
    while left > 0 do
      local batch = redis.call('ZRANGEBYSCORE', cold, after, stopS, 'LIMIT', 0, 64)
      for _, m in ipairs(batch) do
        local e = parseCold(m)
        coldItem(out, e, -1)
        left = left - e.count
        after = '(' .. e.minS
        if left <= 0 then break end
      end
      if #batch < 64 then break end
    end
  end
  if left > 0 then
    local aboveMin = p > lastE.maxPts and minSpec or ('(' .. lastE.maxS)
    hot(out, redis.call('ZRANGEBYSCORE', index, aboveMin, stopS, 'LIMIT', 0, left), -1)
  end
  return out
end

-- Descending from the bound: hot above the cold range, cold entries, hot below it.
local function backward(incl, boundS, budget, stopS)
  local out = {}
  local p, stop = num(boundS), num(stopS)
  local maxSpec = incl and boundS or ('(' .. boundS)
  local left = budget
  if left <= 0 then return out end
  if not firstE then
    hot(out, redis.call('ZREVRANGEBYSCORE', index, maxSpec, stopS, 'LIMIT', 0, left), -1)
    return out
  end
  local aboveMin = stop > lastE.maxPts and stopS or ('(' .. lastE.maxS)
  left = left - hot(out, redis.call('ZREVRANGEBYSCORE', index, maxSpec, aboveMin, 'LIMIT', 0, left), -1)
  if left > 0 and stop <= lastE.maxPts then
    local at = redis.call('ZREVRANGEBYSCORE', cold, maxSpec, '-inf', 'LIMIT', 0, 1)
    if #at > 0 then
      local e = parseCold(at[1])
      local done = e.maxPts < stop
      if not done then
        coldItem(out, e, -1)
        if e.maxPts < p or (incl and e.maxPts == p) then left = left - e.count end
      end
      local before = '(' .. e.minS
      while left > 0 and not done do
        local batch = redis.call('ZREVRANGEBYSCORE', cold, before, '-inf', 'LIMIT', 0, 64)
        for _, m in ipairs(batch) do
          local x = parseCold(m)
          if x.maxPts < stop then done = true break end
          coldItem(out, x, -1)
          left = left - x.count
          before = '(' .. x.minS
          if left <= 0 then break end
        end
        if #batch < 64 then break end
      end
    end
  end
  if left > 0 then
    local belowMax = p < firstE.minPts and maxSpec or ('(' .. firstE.minS)
    hot(out, redis.call('ZREVRANGEBYSCORE', index, belowMax, stopS, 'LIMIT', 0, left), -1)
  end
  return out
end

if op == 'scan' then
  local res = {}
  for i = 3, #ARGV, 5 do
    local dir, incl, boundS, budget, stopS = ARGV[i], ARGV[i + 1] == '1', ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4]
    if dir == 'f' then res[#res + 1] = forward(incl, boundS, budget, stopS)
    elseif dir == 'b' then res[#res + 1] = backward(incl, boundS, budget, stopS)
    else return redis.error_reply('ERR queryIndex: unknown scan direction ' .. tostring(dir)) end
  end
  return res
elseif op == 'rank' then
  local hotTotal = redis.call('ZCARD', index)
  local below, coldCount = hotTotal, 0
  if firstE then
    below = redis.call('ZCOUNT', index, '-inf', '(' .. firstE.minS)
    coldCount = lastE.cum + lastE.count - firstE.cum
  end
  local total = hotTotal + coldCount
  local from, to, offset, limit = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  if from < 0 then from = total + from end
  if to < 0 then to = total + to end
  if to >= total then to = total - 1 end
  if from < 0 then from = 0 end
  local first, last = 0, -1
  if from <= to and total > 0 then
    local count = to - from + 1
    if offset < 0 then offset = math.max(0, count + offset) end
    first = from + offset
    last = math.min(to, first + limit - 1)
  end
  local out = {}
  local r = first
  if r <= last and r < below then
    local upto = math.min(last, below - 1)
    hot(out, redis.call('ZRANGE', index, r, upto), r)
    r = upto + 1
  end
  if r <= last and r < below + coldCount then
    local at = redis.call('ZREVRANGEBYSCORE', coldrank, firstE.cum + (r - below), '-inf', 'LIMIT', 0, 1)
    local e = parseCold(at[1])
    local start = below + e.cum - firstE.cum
    coldItem(out, e, start)
    local nextRank = start + e.count
    local after = '(' .. e.cum
    while nextRank <= last and nextRank < below + coldCount do
      local batch = redis.call('ZRANGEBYSCORE', coldrank, after, '+inf', 'LIMIT', 0, 64)
      if #batch == 0 then break end
      for _, m in ipairs(batch) do
        local x = parseCold(m)
        start = below + x.cum - firstE.cum
        coldItem(out, x, start)
        nextRank = start + x.count
        after = '(' .. x.cum
        if nextRank > last then break end
      end
    end
    r = below + coldCount
  end
  if r <= last then
    hot(out, redis.call('ZRANGE', index, r - coldCount, last - coldCount), r)
  end
  return { first, last, out }
else
  return redis.error_reply('ERR queryIndex: unknown operation ' .. tostring(op))
end
