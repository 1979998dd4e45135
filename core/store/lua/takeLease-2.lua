--[[
  A channel's ingest lease: one holder at a time across all processes; it expires when its holder stops
  renewing it (the holder died). A newcomer that finds it held leaves a takeover request, which the holder
  sees at its next renewal (the stale-session rule: a new connection with the same key replaces the old
  one, whichever process holds it).

  KEYS[1] lease string         <p>:{c}:lease
  KEYS[2] takeover request     <p>:{c}:lease:want   (the newcomer's holder id)

  A plain lock that takes no takeover requests (the archiver's per-channel lock) passes KEYS[1] again as
  KEYS[2] and uses modes 0 and -1: mode 0 then takes it when free and renews it when ours (the holder's own
  id is never a request), and answers 0 while another holds it.
  ARGV[1] holder id     ARGV[2] time-to-live ms
  ARGV[3] mode:
     1 = take: when free or already ours, take it (and clear our request): 1; else leave a request: 0
     0 = renew: when ours, or free again (it expired during a Redis outage and nobody took it), keep it:
         1, or 2 when another process asks to take over; when another holds it: 0
    -1 = release, only when ours: 1, else 0
]]
local have = redis.call('GET', KEYS[1])
local holder, ttl, mode = ARGV[1], ARGV[2], tonumber(ARGV[3])
if mode == -1 then
  if have == holder then redis.call('DEL', KEYS[1]) return 1 end
  return 0
end
if have ~= false and have ~= holder then
  if mode == 1 then redis.call('SET', KEYS[2], holder, 'PX', ttl) end
  return 0
end
redis.call('SET', KEYS[1], holder, 'PX', ttl)
local want = redis.call('GET', KEYS[2])
if mode == 1 then
  if want == holder then redis.call('DEL', KEYS[2]) end
  return 1
end
if want ~= false and want ~= holder then return 2 end
return 1
