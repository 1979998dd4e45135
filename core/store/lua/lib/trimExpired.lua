-- Shared by the store's scripts (spliced in by `--#include trimExpired.lua`, see core/store/scripts.ts).
-- trimExpired(index, expiry, prefix, now, limit): remove from both sorted sets up to `limit` members whose expiry
-- time (the score in `expiry`, ms) is at or before `now` (bounded work per call), and unlink those members'
-- element keys (`prefix .. member`, `prefix .. member .. ':data'`). Their TTLs ran out with the expiry score (every
-- write that sets an element's TTL sets its expiry score with it), so this removes only what Redis would expire:
-- but now, while its pages are hot, instead of whenever Redis's sampling of expiring keys finds them (with many
-- long-lived keys beside a short window, a quarter of a window's worth of keys waited there, holding memory).
local function trimExpired(index, expiry, prefix, now, limit)
  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, limit)
  if #gone > 0 then
    redis.call('ZREM', index, unpack(gone))
    redis.call('ZREM', expiry, unpack(gone))
    local keys = {}
    for i, member in ipairs(gone) do
      keys[2 * i - 1] = prefix .. member
      keys[2 * i] = prefix .. member .. ':data'
    end
    redis.call('UNLINK', unpack(keys))
  end
end
