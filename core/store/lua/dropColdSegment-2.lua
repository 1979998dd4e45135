--[[
  A segment left the DVR window: remove its entry, and the entries of every earlier segment, from the front of a
  stream's cold index. The DVR window leaves from the front, so the cold index never has a hole (its ranks count
  on that: see cold-index.ts).

  KEYS[1] cold index           <p>:{c}:s<i>:cold
  KEYS[2] cold rank index      <p>:{c}:s<i>:coldrank

  ARGV[1] segment index

  Returns the number of entries removed.
]]
--#include coldIndex.lua
local upto = tonumber(ARGV[1])
local removed = 0
while true do
  local page = redis.call('ZRANGE', KEYS[1], 0, 63)
  local gone = {}
  for _, m in ipairs(page) do
    local e = parseCold(m)
    if e and tonumber(e.seg) > upto then break end
    gone[#gone + 1] = m
  end
  if #gone > 0 then
    redis.call('ZREM', KEYS[1], unpack(gone))
    redis.call('ZREM', KEYS[2], unpack(gone))
    removed = removed + #gone
  end
  if #gone < 64 then break end
end
return removed
