--[[
  Payloads of one archived segment object leave Redis: per packet, its element hash gets the field `arch`
  (`<object key>|<offset>|<size>`: where the bytes are in the archive) and its payload key is unlinked, in one
  step, so a reader finds either the payload or the reference. Only packets whose payload key still exists and
  holds exactly `size` bytes (what was written into the object) and whose element hash exists are touched.

  KEYS[1] index sorted set   <p>:{c}:s<i>:index  (names the slot; element keys share it)

  ARGV[1] element key prefix <p>:{c}:s<i>:   (metadata key = prefix .. member, payload = that .. ':data')
  ARGV[2] object key
  ARGV[3 ..] triples: member, offset in the object, size

  Returns the number of payloads moved.
]]
local prefix, object = ARGV[1], ARGV[2]
local n = 0
for i = 3, #ARGV, 3 do
  local member, offset, size = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local key = prefix .. member
  local data = key .. ':data'
  if redis.call('EXISTS', key) == 1 and redis.call('EXISTS', data) == 1 and redis.call('STRLEN', data) == size then
    redis.call('HSET', key, 'arch', object .. '|' .. offset .. '|' .. size)
    redis.call('UNLINK', data)
    n = n + 1
  end
end
return n
