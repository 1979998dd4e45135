--[[
  A short lock held by one process (the archiver's per-channel lock): take it when free, renew it when ours,
  release it only when ours.

  KEYS[1] lock string        <p>:{c}:archive:lock

  ARGV[1] holder id
  ARGV[2] time-to-live in ms
  ARGV[3] 1 take or renew, -1 release

  Returns 1 when held (take) or released (release), 0 otherwise.
]]
local holder, ttl, mode = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local current = redis.call('GET', KEYS[1])
if mode == -1 then
  if current == holder then
    redis.call('DEL', KEYS[1])
    return 1
  end
  return 0
end
if current == holder then
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
if current then return 0 end
redis.call('SET', KEYS[1], holder, 'PX', ttl)
return 1
