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
return dropColdFront(KEYS[1], KEYS[2], math.huge, function(e) return tonumber(e.seg) <= upto end)
