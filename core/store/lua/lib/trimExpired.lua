-- Shared by the store's scripts (spliced in by `--#include trimExpired.lua`, see core/store/scripts.ts).
-- trimExpired(index, expiry, now, limit): remove from both sorted sets up to `limit` members whose expiry
-- time (the score in `expiry`, ms) is at or before `now` (bounded work per call).
local function trimExpired(index, expiry, now, limit)
  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, limit)
  if #gone > 0 then
    redis.call('ZREM', index, unpack(gone))
    redis.call('ZREM', expiry, unpack(gone))
  end
end
