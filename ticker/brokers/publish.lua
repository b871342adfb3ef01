--[[
publish.lua: make one change to a feed — append its events to the log and notify every node — in
one atomic step.

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
  2. The time: Redis TIME in ms, but never earlier than the last time stamped, so ids and
     timestamps never go backwards.
  3. The scheduler's claim (kind "due"): the earliest entry of the feed's schedule (a sorted set
     of "golive:<id>" / "expire:<id>" by due ms) that is due by that time is removed and becomes
     this step's change. Because the claim and the event it causes are one script, whichever
     nodes call it, each entry fires once; a node that dies after sending the script changes
     nothing (Redis runs it whole or not at all). Nothing due: "idle" and the next due time.
  4. Idempotency: a record under the (scope, key) hash holds the fingerprint of the body that
     first used the key and the id of the item it touched. Same fingerprint: "duplicate" with
     that item as it is now, and nothing is written. Other fingerprint: "mismatch".
  5. A change to an existing item needs it ("not_found"), not canceled ("canceled"), in a status
     that allows the change, not expired unless the change is a note or a kill ("illegal"; the
     table is ticker/brokers/transitions.py), and, for changes computed from the stored item,
     at the expected version ("conflict").
  6. Stamp exactly like ticker/stamp.py does (the broker contract tests hold both engines to it):
     a new item gets '{"id":"…","published_at":"…","updated_at":"…",' put in front of its draft
     (without the draft's leading '{'); a changed one gets '{"updated_at":"…",'. A desk item
     (kind "draft": scheduled or submitted) appends no event and takes no sequence, so its id
     gets a millisecond of its own (later than any used before) to stay unique.
  7. Make the change: store the item, keep the latest set (on the air, score = published ms),
     the schedule, the drafts desk items go live as, the expired set, the pinned item and the
     private notes; append each event (XADD with stream id "<seq>-0"; MAXLEN ~ history bounds
     the log; Redis trims whole stream nodes, so a log can hold a little more than history
     entries) and PUBLISH "<epoch> <seq> <event JSON>" on the feed's channel: SPUBLISH on Redis
     Cluster (sharded pub/sub, Redis 7: the message stays on the shard that owns the feed's
     slot). Taking the pinned item off the air appends a second event, the unpin.
  8. Record the idempotency result, with its TTL.
  9. Item retention (trim_items below): drop items whose events left the retained window.

Every check that can refuse the change (steps 4-5) comes before the first write that belongs to
the change, and the writes themselves cannot fail on well-formed keys, so a refused or failed
publish leaves nothing half-written. (Step 1 writes only the epoch, which any read would too;
step 3's claim of an entry whose item was killed meanwhile is the dropping of a stale entry.)

  10. (issue 13) With the change (after step 7): append the item's history entry {action, by,
     at, version} (ticker/history.py builds the same strings) and PUBLISH the desk's notice of it
     on the feed's desk channel. Item retention (step 9) drops an item's history with it.

KEYS: meta, log, items, latest, notes, drafts, due, expired, retention, history[, idem]
ARGV: kind, body, item_id, expected_version ("" = none), candidate_epoch, history, latest_max,
      channel, feed, fingerprint, ttl_seconds, notify ("PUBLISH" or "SPUBLISH"), live,
      embargo_ms, expires_ms, place_ms ("" = none), note ("" keep, "-" remove, "=text" set), by,
      item_retention (events an item outlives; 0 = keep every item), desk_channel,
      require_status ("" = any)
Returns: {status, epoch, seq, item JSON or nil, next due ms or nil (kind "due")}; seq is the
last sequence appended when "published", else the feed's last sequence.
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

local meta, log, items, latest = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local notes, drafts, due, expired = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local retention, history_key, idem = KEYS[9], KEYS[10], KEYS[11]
local kind, body, item_id, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local history, latest_max = tonumber(ARGV[6]), tonumber(ARGV[7])
local channel, feed, fingerprint, ttl = ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[11])
local notify = ARGV[12] == 'SPUBLISH' and 'SPUBLISH' or 'PUBLISH'
local live, embargo_ms, expires_ms, place_ms = ARGV[13], ARGV[14], ARGV[15], ARGV[16]
local note, by = ARGV[17], ARGV[18] -- by: who (token sub; "" = the scheduler), for history
local desk_channel, require_status = ARGV[20], ARGV[21]

-- ticker/brokers/transitions.py, restated: kind -> statuses that allow it
local ALLOWED = {
  update = {usable = true, withheld = true, scheduled = true, submitted = true},
  note = {usable = true, withheld = true, scheduled = true, submitted = true},
  hold = {usable = true},
  release = {withheld = true},
  retract = {usable = true, withheld = true, scheduled = true, submitted = true},
  pin = {usable = true},
  golive = {scheduled = true, submitted = true},
  expire = {usable = true, withheld = true},
  approve = {submitted = true}, -- issue 13
  reject = {submitted = true},
}
local EXPIRED_ALLOWED = {note = true, retract = true}
local VERSIONED = {update = true, hold = true, release = true, retract = true, approve = true,
  reject = true}

-- 1. the feed's log and its epoch
if redis.call('HSETNX', meta, 'epoch', ARGV[5]) == 1 then
  redis.call('DEL', log, latest)
end
local epoch = redis.call('HGET', meta, 'epoch')
local last = tonumber(redis.call('HGET', meta, 'seq') or '0')

-- 2. the time
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local last_ms = tonumber(redis.call('HGET', meta, 'ms') or '0')
if last_ms > ms then
  ms = last_ms
end

-- 3. the scheduler's claim
local next_due = false
if kind == 'due' then
  local first = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
  if not first[1] or tonumber(first[2]) > ms then
    return {'idle', epoch, last, false, first[2] or false}
  end
  redis.call('ZREM', due, first[1])
  kind, item_id = string.match(first[1], '^(%a+):(.+)$')
  local after = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
  next_due = after[2] or false
end

-- 4. idempotency
if idem then
  local seen = redis.call('HMGET', idem, 'f', 'i')
  if seen[1] then
    if seen[1] ~= fingerprint then
      return {'mismatch', epoch, last, false}
    end
    return {'duplicate', epoch, last, redis.call('HGET', items, seen[2])}
  end
end

-- 5. a change to an existing item: it exists, its status allows the change, the version
local current, status = false, ''
if kind ~= 'item' and kind ~= 'draft' and kind ~= 'unpin' then
  current = redis.call('HGET', items, item_id)
  if not current then
    return {'not_found', epoch, last, false, next_due}
  end
  local state = cjson.decode(current)
  status = state.status
  if status == 'canceled' then
    return {'canceled', epoch, last, current, next_due}
  end
  if not (ALLOWED[kind] or {})[status] or (not EXPIRED_ALLOWED[kind]
      and redis.call('SISMEMBER', expired, item_id) == 1)
      or (require_status ~= '' and status ~= require_status) then
    return {'illegal', epoch, last, current, next_due}
  end
  if VERSIONED[kind] and (expected == '' or tonumber(expected) ~= state.version) then
    return {'conflict', epoch, last, current, next_due}
  end
  if kind == 'golive' and redis.call('HEXISTS', drafts, item_id) == 0 then
    return {'illegal', epoch, last, current, next_due}
  end
end

-- 6. stamp
if kind == 'draft' and ms <= last_ms then
  ms = last_ms + 1
end
redis.call('HSET', meta, 'ms', string.format('%d', ms))
local ts = rfc3339(ms)
local function stamp_live(id, draft)
  return '{"id":"' .. id .. '","published_at":"' .. ts .. '","updated_at":"' .. ts .. '",'
    .. string.sub(draft, 2)
end

-- 7. change, append, notify
local seq = last
local function append(event_type, rest)
  seq = redis.call('HINCRBY', meta, 'seq', 1)
  local seq_text = string.format('%d', seq)
  local event = '{"type":"' .. event_type .. '","cursor":"' .. epoch .. ':' .. seq_text .. '"'
    .. rest .. '}'
  redis.call('XADD', log, 'MAXLEN', '~', history, seq_text .. '-0', 'd', event)
  redis.call(notify, channel, epoch .. ' ' .. seq_text .. ' ' .. event)
end
local function retracted(id, reason)
  append('retract', ',"feed":"' .. feed .. '","id":"' .. id .. '","reason":"' .. reason .. '"')
end
local function on_air(id, place)
  redis.call('ZADD', latest, place, id)
  redis.call('ZREMRANGEBYRANK', latest, 0, -(latest_max + 1))
end
local function schedule(entry, at)
  if at == '' then
    redis.call('ZREM', due, entry)
  else
    redis.call('ZADD', due, at, entry)
  end
end
local function unpin_if(id)
  if redis.call('HGET', meta, 'pinned') == id then
    redis.call('HDEL', meta, 'pinned')
    append('pin', ',"feed":"' .. feed .. '","id":null')
  end
end

local item = current
if kind == 'item' then
  item_id = string.format('%011x%08x', ms, last + 1)
  item = stamp_live(item_id, body)
  redis.call('HSET', items, item_id, item)
  on_air(item_id, ms)
  append('item', ',"item":' .. item)
  schedule('expire:' .. item_id, expires_ms)
elseif kind == 'draft' then
  item_id = string.format('%011x%08x', ms, last)
  item = stamp_live(item_id, body)
  redis.call('HSET', items, item_id, item)
  redis.call('HSET', drafts, item_id, live)
  schedule('golive:' .. item_id, embargo_ms)
  schedule('expire:' .. item_id, expires_ms)
elseif kind == 'update' or kind == 'hold' or kind == 'release' or kind == 'retract' then
  item = '{"updated_at":"' .. ts .. '",' .. string.sub(body, 2)
  redis.call('HSET', items, item_id, item)
  if kind == 'update' then
    if status == 'usable' then
      append('update', ',"item":' .. item)
    end
    if status == 'scheduled' or status == 'submitted' then
      redis.call('HSET', drafts, item_id, live)
      schedule('golive:' .. item_id, embargo_ms)
    end
    schedule('expire:' .. item_id, expires_ms)
  elseif kind == 'hold' then
    redis.call('ZREM', latest, item_id)
    retracted(item_id, 'withheld')
    unpin_if(item_id)
  elseif kind == 'release' then
    on_air(item_id, place_ms ~= '' and place_ms or ms)
    append('item', ',"item":' .. item)
  else -- retract: a kill
    redis.call('ZREM', latest, item_id)
    redis.call('HDEL', drafts, item_id)
    redis.call('ZREM', due, 'golive:' .. item_id, 'expire:' .. item_id)
    if status == 'usable' or status == 'withheld' then
      retracted(item_id, 'retracted')
    end
    unpin_if(item_id)
  end
elseif kind == 'pin' then
  if redis.call('HGET', meta, 'pinned') ~= item_id then
    redis.call('HSET', meta, 'pinned', item_id)
    append('pin', ',"feed":"' .. feed .. '","id":"' .. item_id .. '","item":{"pinned":true,'
      .. string.sub(item, 2))
  end
elseif kind == 'unpin' then
  local pinned = redis.call('HGET', meta, 'pinned')
  if pinned then
    redis.call('HDEL', meta, 'pinned')
    item_id, item = pinned, redis.call('HGET', items, pinned)
    append('pin', ',"feed":"' .. feed .. '","id":null')
  end
elseif kind == 'golive' then
  item = stamp_live(item_id, redis.call('HGET', drafts, item_id))
  redis.call('HSET', items, item_id, item)
  redis.call('HDEL', drafts, item_id)
  redis.call('ZREM', due, 'golive:' .. item_id)
  on_air(item_id, ms)
  append('item', ',"item":' .. item)
elseif kind == 'approve' then -- (issue 13) submitted -> live now, or scheduled (embargo ahead)
  if embargo_ms ~= '' and tonumber(embargo_ms) > ms then
    item = '{"updated_at":"' .. ts .. '",' .. string.sub(body, 2)
    redis.call('HSET', items, item_id, item)
    schedule('golive:' .. item_id, embargo_ms)
  else
    item = stamp_live(item_id, redis.call('HGET', drafts, item_id))
    redis.call('HSET', items, item_id, item)
    redis.call('HDEL', drafts, item_id)
    redis.call('ZREM', due, 'golive:' .. item_id)
    on_air(item_id, ms)
    append('item', ',"item":' .. item)
  end
elseif kind == 'reject' then -- (issue 13) submitted -> canceled; it never was public
  item = '{"updated_at":"' .. ts .. '",' .. string.sub(body, 2)
  redis.call('HSET', items, item_id, item)
  redis.call('HDEL', drafts, item_id)
  redis.call('ZREM', due, 'golive:' .. item_id, 'expire:' .. item_id)
elseif kind == 'expire' then
  redis.call('SADD', expired, item_id)
  redis.call('ZREM', due, 'expire:' .. item_id)
  if status == 'usable' then
    redis.call('ZREM', latest, item_id)
    retracted(item_id, 'expired')
    unpin_if(item_id)
  end
end
if note ~= '' and item_id ~= '' then
  if note == '-' then
    redis.call('HDEL', notes, item_id)
  else
    redis.call('HSET', notes, item_id, string.sub(note, 2))
  end
end
-- 10. (issue 13) history and the desk's notice (ticker/history.py builds the same strings)
if item_id ~= '' and item then
  local ACTIONS = {item = 'published', update = 'corrected', note = 'corrected', hold = 'held',
    release = 'released', retract = 'retracted', pin = 'pinned', unpin = 'unpinned',
    golive = 'published', expire = 'expired', approve = 'approved', reject = 'rejected'}
  -- the item's own top-level fields: inside its strings a quote is always escaped (\"), so
  -- these patterns cannot match text that merely looks like them (no decode on the hot path)
  local version = string.match(item, '"version":(%d+)')
  local action = kind == 'draft' and string.match(item, '"status":"(%a+)"') or ACTIONS[kind]
  local entry = '{"action":"' .. action .. '","by":' .. cjson.encode(by ~= '' and by or 'scheduler')
    .. ',"at":"' .. ts .. '","version":' .. version .. '}'
  local past = redis.call('HGET', history_key, item_id)
  if past then
    redis.call('HSET', history_key, item_id, string.sub(past, 1, -2) .. ',' .. entry .. ']')
  else
    redis.call('HSET', history_key, item_id, '[' .. entry .. ']')
  end
  local desk = item
  local private = redis.call('HGET', notes, item_id)
  if private then
    desk = '{"note":' .. cjson.encode(private) .. ',' .. string.sub(item, 2)
  end
  redis.call('PUBLISH', desk_channel, '{"type":"desk","feed":"' .. feed .. '","id":"' .. item_id
    .. '",' .. string.sub(entry, 2, -2) .. ',"item":' .. desk .. '}')
end

-- 8. remember the key's outcome
if idem then
  redis.call('HSET', idem, 'f', fingerprint, 'i', item_id)
  redis.call('EXPIRE', idem, ttl)
end

--[[ BEGIN item retention ]]
-- 9. An item stays readable while its last event is among the feed's last `kept` events, or
-- while it is among the latest. `retention` scores every item id by the seq of its last event;
-- each publish looks at up to TRIM_BATCH items past the window (one new item per publish, so
-- the store keeps up). One on the air, the pinned one, or one in any state other than usable
-- or canceled (withheld or a desk state) is kept and looked at again one window later. A
-- dropped item takes its note and its expired mark with it.
local TRIM_BATCH = 8
local function trim_items(touched_id, touched_seq, kept)
  redis.call('ZADD', retention, touched_seq, touched_id)
  if kept <= 0 then
    return
  end
  local old = redis.call('ZRANGEBYSCORE', retention, '-inf', touched_seq - kept,
    'LIMIT', 0, TRIM_BATCH)
  local pinned = redis.call('HGET', meta, 'pinned')
  for i = 1, #old do
    local id = old[i]
    local keep = redis.call('ZSCORE', latest, id) ~= false or id == pinned
    if not keep then
      local stored = redis.call('HGET', items, id)
      if stored then
        local state = cjson.decode(stored)
        keep = state.status ~= 'usable' and state.status ~= 'canceled'
      end
    end
    if keep then
      redis.call('ZADD', retention, touched_seq, id)
    else
      redis.call('ZREM', retention, id)
      redis.call('HDEL', items, id)
      redis.call('HDEL', notes, id)
      redis.call('HDEL', history_key, id) -- (issue 13) the history lives as long as the item
      redis.call('SREM', expired, id)
    end
  end
end
if item_id ~= '' then
  trim_items(item_id, seq, tonumber(ARGV[19] or '0'))
end
--[[ END item retention ]]

return {'published', epoch, seq, item, next_due}
