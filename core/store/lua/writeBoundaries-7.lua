--[[
  Announce segments and parts of a channel, append its events and save its timeline, all at once. This is
  where a channel's media becomes published, so it is also where immutability is enforced:
  - a writer that does not hold the channel's ingest lease is refused (-2): a stale process whose lease
    expired and was taken by another cannot announce anything. A lease that expired with nobody taking it
    (a Redis outage or failover outlived it: the holder could not renew) is taken back by its holder for
    ARGV[9] ms, as a renewal would, so the publish goes on (0: refused, as when another holds it);
  - a segment record at or below the sealed index (already closed) is refused (-1), as is a part of such
    a segment, unless it is byte for byte the record stored (a retried write): what was announced closed
    never changes;
  - the sealed point moves forward with every closed segment: `index` is the highest closed segment,
    `lastEnd` its end, `record` its record JSON, and `endDts` the end of the closed segment before it (the
    record outlives the segments' sorted set, trimmed to the DVR window: a publisher returning after a longer
    break continues the numbering from it, see LiveStore.resumePoint); packet writes below `endDts`
    are refused by addPackets. The packet seal trails by one segment because a segment closes on its
    video and the audio that completes it may still follow (the packager waits for it; publishers
    interleave audio a few hundred ms late); once the next segment closes nothing inside it changes.

  KEYS[1] segments   sorted set  <p>:{c}:segments   (record JSON, score = index)
  KEYS[2] segtime    sorted set  <p>:{c}:segtime    (index, score = wall clock ms)
  KEYS[3] parts      sorted set  <p>:{c}:parts      (record JSON, score = segment * 1000 + part)
  KEYS[4] events     stream      <p>:{c}:events
  KEYS[5] timeline   string      <p>:{c}:timeline
  KEYS[6] sealed     hash        <p>:{c}:sealed     (index, lastEnd, endDts, record)
  KEYS[7] lease      string      <p>:{c}:lease

  ARGV[1] lease holder ('' = do not check: tests and tools writing without a lease)
  ARGV[2] retain ms (DVR window)      ARGV[3] events MAXLEN (approximate)
  ARGV[4] timeline state ('' = leave it)   ARGV[5] timeline TTL ms
  ARGV[6] number of segments S, ARGV[7] number of parts P, ARGV[8] number of events E
  ARGV[9] lease time-to-live ms, to take a free lease back (0 = refuse)
  then S quadruples: index, wallClockMs, endDts (-1 when open), record JSON
  then P triples: score, end dts, record JSON
  then E event field lists, each as: field count F, then F values

  Returns 1, or -1 (would change an announced segment), or -2 (not the lease holder).
]]
local holder = ARGV[1]
local retake = false
if holder ~= '' then
  local have = redis.call('GET', KEYS[7])
  if have ~= holder then
    if have ~= false or tonumber(ARGV[9]) <= 0 then return -2 end
    retake = true
  end
end
local retain, maxlen = tonumber(ARGV[2]), ARGV[3]
local nS, nP, nE = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local sealedIndex = tonumber(redis.call('HGET', KEYS[6], 'index')) or -1
local lastEnd = tonumber(redis.call('HGET', KEYS[6], 'lastEnd'))
local i = 10
-- A record of a sealed segment may only be written again byte for byte (a retried write).
local function unchanged(key, score, json)
  local have = redis.call('ZRANGEBYSCORE', key, score, score)
  return #have == 1 and have[1] == json
end
for s = 1, nS do
  if tonumber(ARGV[i]) <= sealedIndex and not unchanged(KEYS[1], ARGV[i], ARGV[i + 3]) then return -1 end
  i = i + 4
end
for p = 1, nP do
  if math.floor(tonumber(ARGV[i]) / 1000) <= sealedIndex and not unchanged(KEYS[3], ARGV[i], ARGV[i + 2]) then return -1 end
  i = i + 3
end
if retake then redis.call('SET', KEYS[7], holder, 'PX', ARGV[9]) end
i = 10
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local closedMax, sealEnd, newEnd, closedJson = sealedIndex, nil, lastEnd, nil
for s = 1, nS do
  local index, wall, endDts, json = tonumber(ARGV[i]), ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  redis.call('ZREMRANGEBYSCORE', KEYS[1], index, index)
  redis.call('ZADD', KEYS[1], index, json)
  redis.call('ZADD', KEYS[2], wall, index)
  if endDts >= 0 and index > closedMax then
    closedMax = index
    sealEnd = newEnd
    newEnd = endDts
    closedJson = json
  end
  i = i + 4
end
for p = 1, nP do
  local score, json = tonumber(ARGV[i]), ARGV[i + 2]
  redis.call('ZREMRANGEBYSCORE', KEYS[3], score, score)
  redis.call('ZADD', KEYS[3], score, json)
  i = i + 3
end
for e = 1, nE do
  local f = tonumber(ARGV[i])
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', maxlen, '*', unpack(ARGV, i + 1, i + f))
  i = i + 1 + f
end
if closedMax > sealedIndex then
  redis.call('HSET', KEYS[6], 'index', closedMax, 'lastEnd', newEnd, 'record', closedJson)
  if sealEnd then redis.call('HSET', KEYS[6], 'endDts', sealEnd) end
end
if ARGV[4] ~= '' then redis.call('SET', KEYS[5], ARGV[4], 'PX', ARGV[5]) end
-- The sealed point lives as long as the longest of the DVR window and the timeline written with it; a write without a
-- timeline (a resume closing a segment, a restore) never shortens it.
if nS > 0 or nP > 0 then
  local keep = math.max(retain, tonumber(ARGV[5]))
  if redis.call('PTTL', KEYS[6]) < keep then redis.call('PEXPIRE', KEYS[6], keep) end
end
if nS > 0 then
  -- Trim what fell out of the DVR window (by wall clock), then records older than the oldest left.
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - retain)
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
  if oldest[1] then
    local first = tonumber(oldest[1])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. first)
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (first * 1000))
  end
  for k = 1, 4 do redis.call('PEXPIRE', KEYS[k], retain) end
end
return 1
