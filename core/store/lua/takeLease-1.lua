--[[
  A channel's ingest lease: one holder at a time across all processes; it expires when its holder stops
  renewing it (the holder died).

  KEYS[1] lease string  <p>:{c}:lease
  ARGV[1] holder id     ARGV[2] time-to-live ms
  ARGV[3] 1 = take (when free or already ours), 0 = renew (only when ours), -1 = release (only when ours)

  Returns 1 when `holder` holds the lease afterwards (take, renew) or released it, else 0.
]]
local have = redis.call('GET', KEYS[1])
local mode = tonumber(ARGV[3])
if mode == -1 then
  if have == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
  return 0
end
if have == ARGV[1] or (have == false and mode == 1) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
