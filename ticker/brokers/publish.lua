--[[
publish.lua: append one change to a feed's log and notify every node, in one atomic step.

Theory of operation
-------------------
Redis runs a script to completion before it serves any other command, so everything below is one
indivisible step: no reader can see the log without the live message, no node can receive a live
message that is not in the log, and two publishers can never get the same sequence. The script
does, in order:

  1. Open the feed's log: the first publish (or read) of a feed stores the candidate epoch the
     caller sent (HSETNX). A new epoch means a new log, so any stream or latest-set left over from
     a lost one (a partially evicted feed) is dropped: cursors of the old epoch are answered with
     "not recovered", never with entries they do not belong to.
  2. Idempotency: a record under the (scope, key) hash holds the fingerprint of the body that
     first used the key and the id of the item it touched. Same fingerprint: "duplicate" with
     that item as it is now, and nothing is written. Other fingerprint: "mismatch".
  3. For an update or retract: "not_found" without a stored item, "canceled" when it was
     retracted, "conflict" when its version is not the expected one.
  4. The next sequence (HINCRBY: contiguous, 1, 2, 3, ...) and the time: Redis TIME in ms, but
     never earlier than the last time stamped, so ids and timestamps never go backwards.
  5. Stamp exactly like ticker/stamp.py does (the broker contract tests hold both engines to it):
     an item gets '{"id":"…","published_at":"…","updated_at":"…",' put in front of its draft
     (without the draft's leading '{'); an update or retract gets '{"updated_at":"…",'.
  6. Store the item, keep the latest set (new items in, retracted ones out, trimmed to
     latest_max), XADD the event with stream id "<seq>-0" (MAXLEN ~ history bounds the log;
     Redis trims whole stream nodes, so a log can hold a little more than history entries), and
     PUBLISH "<epoch> <seq> <event JSON>" on the feed's channel: SPUBLISH on Redis Cluster
     (sharded pub/sub, Redis 7: the message stays on the shard that owns the feed's slot).
  7. Record the idempotency result, with its TTL.
  8. Item retention (trim_items below): drop items whose events left the retained window.

Every check that can refuse the change (steps 2-3) comes before the first write that belongs to
the change, and the writes themselves cannot fail on well-formed keys, so a refused or failed
publish leaves nothing half-written. (Step 1 writes only the epoch, which any read would too.)

KEYS: meta, log, items, latest, retention[, idem]
ARGV: kind, body, item_id, expected_version ("" = none), candidate_epoch, history, latest_max,
      channel, feed, fingerprint, ttl_seconds, notify ("PUBLISH" or "SPUBLISH"; default PUBLISH),
      item_retention (events an item outlives; 0 = keep every item)
Returns: {status, epoch, seq, item JSON or nil}; seq is the new sequence when "published", else
the feed's last sequence.
]]

if redis.replicate_commands then
  redis.replicate_commands() -- Redis < 7: allow writes after TIME (effects replication)
end

--[[ BEGIN rfc3339 ]]
-- Milliseconds since the Unix epoch -> "YYYY-MM-DDTHH:MM:SS.mmmZ" (Redis Lua has no os.date).
-- Days -> civil date: the proleptic Gregorian calendar counted in 400-year eras of 146097 days,
-- with years starting on March 1 so that the leap day is the last day of a year.
local function rfc3339(ms)
  local secs = math.floor(ms / 1000)
  local milli = ms - secs * 1000
  local days = math.floor(secs / 86400)
  local sod = secs - days * 86400
  local z = days + 719468 -- days since 0000-03-01
  local era = math.floor(z / 146097)
  local doe = z - era * 146097 -- day of era, 0..146096
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365) -- year of era, 0..399
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100)) -- from March 1
  local mp = math.floor((5 * doy + 2) / 153) -- month from March, 0..11
  local day = doy - math.floor((153 * mp + 2) / 5) + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400
  if month <= 2 then
    year = year + 1
  end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', year, month, day,
    math.floor(sod / 3600), math.floor(sod % 3600 / 60), sod % 60, milli)
end
--[[ END rfc3339 ]]

local meta, log, items, latest, idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[6]
local retention = KEYS[5]
local kind, body, item_id, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local history, latest_max = tonumber(ARGV[6]), tonumber(ARGV[7])
local channel, feed, fingerprint, ttl = ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[11])
local notify = ARGV[12] == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH'

-- 1. the feed's log and its epoch
if redis.call('HSETNX', meta, 'epoch', ARGV[5]) == 1 then
  redis.call('DEL', log, latest)
end
local epoch = redis.call('HGET', meta, 'epoch')
local last = tonumber(redis.call('HGET', meta, 'seq') or '0')

-- 2. idempotency
if idem then
  local seen = redis.call('HMGET', idem, 'f', 'i')
  if seen[1] then
    if seen[1] ~= fingerprint then
      return {'mismatch', epoch, last, false}
    end
    return {'duplicate', epoch, last, redis.call('HGET', items, seen[2])}
  end
end

-- 3. an update or retract needs the stored item, not retracted, at the expected version
if kind ~= 'item' then
  local current = redis.call('HGET', items, item_id)
  if not current then
    return {'not_found', epoch, last, false}
  end
  local state = cjson.decode(current)
  if state.status == 'canceled' then
    return {'canceled', epoch, last, current}
  end
  if expected == '' or tonumber(expected) ~= state.version then
    return {'conflict', epoch, last, current}
  end
end

-- 4. sequence and time
local seq = redis.call('HINCRBY', meta, 'seq', 1)
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local last_ms = tonumber(redis.call('HGET', meta, 'ms') or '0')
if last_ms > ms then
  ms = last_ms
end
redis.call('HSET', meta, 'ms', string.format('%d', ms))

-- 5. stamp
local ts = rfc3339(ms)
local item
if kind == 'item' then
  item_id = string.format('%011x%08x', ms, seq)
  item = '{"id":"' .. item_id .. '","published_at":"' .. ts .. '","updated_at":"' .. ts .. '",'
    .. string.sub(body, 2)
else
  item = '{"updated_at":"' .. ts .. '",' .. string.sub(body, 2)
end
local seq_text = string.format('%d', seq)
local cursor = epoch .. ':' .. seq_text
local event
if kind == 'retract' then
  event = '{"type":"retract","cursor":"' .. cursor .. '","feed":"' .. feed .. '","id":"'
    .. item_id .. '"}'
else
  event = '{"type":"' .. kind .. '","cursor":"' .. cursor .. '","item":' .. item .. '}'
end

-- 6. store, append, notify
redis.call('HSET', items, item_id, item)
if kind == 'item' then
  redis.call('ZADD', latest, seq, item_id)
  redis.call('ZREMRANGEBYRANK', latest, 0, -(latest_max + 1))
elseif kind == 'retract' then
  redis.call('ZREM', latest, item_id)
end
redis.call('XADD', log, 'MAXLEN', '~', history, seq_text .. '-0', 'd', event)
redis.call(notify, channel, epoch .. ' ' .. seq_text .. ' ' .. event)

-- 7. remember the key's outcome
if idem then
  redis.call('HSET', idem, 'f', fingerprint, 'i', item_id)
  redis.call('EXPIRE', idem, ttl)
end

--[[ BEGIN item retention ]]
-- 8. An item stays readable while its last event is among the feed's last `kept` events, or
-- while it is among the latest. `retention` scores every item id by the seq of its last event;
-- each publish looks at up to TRIM_BATCH items past the window (one new item per publish, so
-- the store keeps up). One still among the latest, a pinned one, or one in any state other than
-- usable or canceled (a desk state) is kept and looked at again one window later.
local TRIM_BATCH = 8
local function trim_items(touched_id, touched_seq, kept)
  redis.call('ZADD', retention, touched_seq, touched_id)
  if kept <= 0 then
    return
  end
  local old = redis.call('ZRANGEBYSCORE', retention, '-inf', touched_seq - kept,
    'LIMIT', 0, TRIM_BATCH)
  for i = 1, #old do
    local id = old[i]
    local keep = redis.call('ZSCORE', latest, id) ~= false
    if not keep then
      local stored = redis.call('HGET', items, id)
      if stored then
        local state = cjson.decode(stored)
        keep = state.pinned == true or (state.status ~= 'usable' and state.status ~= 'canceled')
      end
    end
    if keep then
      redis.call('ZADD', retention, touched_seq, id)
    else
      redis.call('ZREM', retention, id)
      redis.call('HDEL', items, id)
    end
  end
end
trim_items(item_id, seq, tonumber(ARGV[13] or '0'))
--[[ END item retention ]]

return {'published', epoch, seq, item}
