#include "connectors/redis/feature_script.h"

namespace fraud {

static_assert(script_agg_code(Aggregation::kCount) == 0 && script_agg_code(Aggregation::kSum) == 1 &&
              script_agg_code(Aggregation::kMin) == 2 && script_agg_code(Aggregation::kMax) == 3 &&
              script_agg_code(Aggregation::kAvg) == 4 && script_agg_code(Aggregation::kDistinct) == 5);

const char* const kFeatureScript = R"LUA(#!lua flags=allow-cross-slot-keys
local COUNT, DISTINCT = 0, 5
local overflows = 0  -- distinct values not tracked (the key was at its cap)

-- A distinct value's buckets (a number or a set) hold one >= keep.
local function live(s, keep)
  if type(s) == 'number' then return s >= keep end
  for y, _ in pairs(s) do if y >= keep then return true end end
  return false
end

-- Applies one key's ops (a: agg, n, L, distinct cap, op count, 6 items per
-- op) to its state body `raw` (nil: none), appending the read values to out;
-- returns the new out length, the new body (nil when nothing changed) and
-- the ordinals of the too-late ops.
local function compute(raw, a, out, no)
  local agg, n, L, cap, nops = a[1], a[2], a[3], a[4], a[5]
  local kept = n + L
  local late = {}
  local p = 6
  -- b: bucket -> count (count) or {count, numeric count, sum, min, max};
  -- d: value hash -> bucket, or a set of buckets when it has several.
  local newest, applied, b, d = nil, {}, {}, {}
  local nd = 0  -- entries of d (distinct values tracked)
  if raw then
    local st = cmsgpack.unpack(raw)
    newest = st[1]
    local q = 3
    for _ = 1, st[2] do applied[st[q]] = st[q + 1]; q = q + 2 end
    local len = #st
    if agg == DISTINCT then
      while q <= len do
        local nb = st[q + 1]
        nd = nd + 1
        if nb == 1 then d[st[q]] = st[q + 2]
        else
          local s = {}
          for j = 1, nb do s[st[q + 1 + j]] = true end
          d[st[q]] = s
        end
        q = q + 2 + nb
      end
    elseif agg == COUNT then
      while q <= len do b[st[q]] = st[q + 1]; q = q + 2 end
    else
      while q <= len do b[st[q]] = {st[q + 1], st[q + 2], st[q + 3], st[q + 4], st[q + 5]}; q = q + 6 end
    end
  end
  -- cbk/cval: the last read's bucket and value (count and distinct), kept
  -- current by updates inside its window, so a hot key's many reads in one
  -- batch do not rescan its state.
  local cbk, cval = nil, 0
  local dirty = false
  for j = 1, nops do
    local flags, bk, num, text, part, off = a[p], a[p + 1], a[p + 2], a[p + 3], a[p + 4], a[p + 5]
    p = p + 6
    if newest ~= nil and bk < newest - L then late[#late + 1] = j end
    local update = (flags % 2) == 1
    if update and part >= 0 then
      local prev = applied[part]
      if prev and off <= prev then
        update = false
      else
        applied[part] = off
        dirty = true
      end
    end
    if update then
      if newest == nil or bk > newest then
        newest = bk
        cbk = nil  -- the kept range moved: the cached read may count less now
      end
      dirty = true
      if bk >= newest - kept + 1 then
        local in_cache = cbk ~= nil and bk <= cbk and bk > cbk - n
        if agg == DISTINCT then
          if text then
            local s = d[text]
            local keep = newest - kept + 1
            if s ~= nil and not live(s, keep) then
              -- no longer live: it comes back as a new value (as in the engine)
              d[text] = nil; nd = nd - 1; s = nil
            end
            if s == nil and nd >= cap then
              -- At the cap: drop values no longer live, as the engine does.
              nd = 0
              for v, x in pairs(d) do
                if live(x, keep) then nd = nd + 1 else d[v] = nil end
              end
            end
            if s == nil and nd >= cap then
              -- not tracked: the key already tracks `cap` live values
              overflows = overflows + 1
            elseif s == nil then
              d[text] = bk
              nd = nd + 1
              if in_cache then cval = cval + 1 end
            elseif type(s) == 'number' then
              if s ~= bk then
                if in_cache and not (s <= cbk and s > cbk - n) then cval = cval + 1 end
                d[text] = {[s] = true, [bk] = true}
              end
            elseif not s[bk] then
              if in_cache then
                local seen = false
                for x, _ in pairs(s) do
                  if x <= cbk and x > cbk - n then seen = true; break end
                end
                if not seen then cval = cval + 1 end
              end
              s[bk] = true
            end
          end
        elseif agg == COUNT then
          b[bk] = (b[bk] or 0) + 1
          if in_cache then cval = cval + 1 end
        else
          local e = b[bk]
          if not e then e = {0, 0, 0, 0, 0}; b[bk] = e end
          e[1] = e[1] + 1
          if num then
            if e[2] == 0 then e[4] = num; e[5] = num
            else
              if num < e[4] then e[4] = num end
              if num > e[5] then e[5] = num end
            end
            e[2] = e[2] + 1
            e[3] = e[3] + num
          end
        end
      end
    end
    if flags >= 2 then
      local lo = bk - n + 1
      -- Only kept buckets count (a too-late read may see fewer of them).
      if newest ~= nil and lo < newest - kept + 1 then lo = newest - kept + 1 end
      local v
      if cbk == bk then
        v = cval
      elseif agg == DISTINCT then
        local cnt = 0
        for _, s in pairs(d) do
          if type(s) == 'number' then
            if s >= lo and s <= bk then cnt = cnt + 1 end
          else
            for x, _ in pairs(s) do
              if x >= lo and x <= bk then cnt = cnt + 1; break end
            end
          end
        end
        v = cnt
        cbk, cval = bk, cnt
      elseif agg == COUNT then
        local cnt = 0
        for x, c in pairs(b) do
          if x >= lo and x <= bk then cnt = cnt + c end
        end
        v = cnt
        cbk, cval = bk, cnt
      else
        -- Buckets in order, so sums round exactly as the in-memory store's.
        local keys = {}
        for x, _ in pairs(b) do
          if x >= lo and x <= bk then keys[#keys + 1] = x end
        end
        table.sort(keys)
        local numc, sum, mn, mx = 0, 0, nil, nil
        for _, x in ipairs(keys) do
          local e = b[x]
          if e[2] > 0 then
            numc = numc + e[2]
            sum = sum + e[3]
            if mn == nil or e[4] < mn then mn = e[4] end
            if mx == nil or e[5] > mx then mx = e[5] end
          end
        end
        if agg == 1 then v = sum
        elseif numc == 0 then v = false
        elseif agg == 2 then v = mn
        elseif agg == 3 then v = mx
        else v = sum / numc end
      end
      no = no + 1
      out[no] = v
    end
  end
  if dirty then
    local keep = newest - kept + 1
    local st = {newest, 0}
    local m = 2
    local np = 0
    for part, off in pairs(applied) do
      st[m + 1] = part; st[m + 2] = off; m = m + 2; np = np + 1
    end
    st[2] = np
    if agg == DISTINCT then
      for val, s in pairs(d) do
        if type(s) == 'number' then
          if s >= keep then st[m + 1] = val; st[m + 2] = 1; st[m + 3] = s; m = m + 3 end
        else
          local cnt = 0
          for x, _ in pairs(s) do
            if x >= keep then cnt = cnt + 1 end
          end
          if cnt > 0 then
            st[m + 1] = val; st[m + 2] = cnt; m = m + 2
            for x, _ in pairs(s) do
              if x >= keep then m = m + 1; st[m] = x end
            end
          end
        end
      end
    elseif agg == COUNT then
      for x, c in pairs(b) do
        if x >= keep then st[m + 1] = x; st[m + 2] = c; m = m + 2 end
      end
    else
      for x, e in pairs(b) do
        if x >= keep then
          st[m + 1] = x; st[m + 2] = e[1]; st[m + 3] = e[2]; st[m + 4] = e[3]; st[m + 5] = e[4]; st[m + 6] = e[5]
          m = m + 6
        end
      end
    end
    return no, cmsgpack.pack(st), late
  end
  return no, nil, late
end

local flags = ARGV[1]
local mget, want_state = string.byte(flags, 1) == 49, string.byte(flags, 2) == 49
local ng = (#ARGV - 1) / 5
local states = {}
if mget then
  -- One node, no cluster: MGET in slices (Lua's unpack() takes a few
  -- thousand values at most).
  local ks = {}
  for k = 1, ng do ks[k] = ARGV[5 * k - 3] end
  for first = 1, ng, 1000 do
    local got = redis.call('MGET', unpack(ks, first, math.min(first + 999, ng)))
    for j = 1, #got do states[first + j - 1] = got[j] end
  end
else
  -- Cluster: one GET per key (a command may not span slots).
  for k = 1, ng do states[k] = redis.call('GET', ARGV[5 * k - 3]) end
end
-- out[1]: the overflow count; then per key the script computed: its
-- position, its stored value (or false), the read count, the reads, the
-- too-late count, their ordinals.
local out, no = {0}, 1
for k = 1, ng do
  local b = 5 * k - 4
  local key, expect, state = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local cur = states[k]
  local ok
  if expect == '?' then ok = false
  elseif not cur then ok = expect == ''
  else ok = #expect == 9 and string.sub(cur, 1, 9) == expect end
  local ttl = ARGV[b + 4]
  local keep = string.byte(ttl, 1) == 45
  if ok then
    -- Nobody wrote since the engine read it: the engine's result stands.
    if #state > 9 then
      if keep then redis.call('SET', key, state, 'KEEPTTL')
      else redis.call('SET', key, state, 'PX', ttl) end
    end
  else
    if keep then ttl = string.sub(ttl, 2) end
    local body = cur
    if cur and string.byte(cur, 1) == 193 then body = string.sub(cur, 10) end
    no = no + 1; out[no] = k
    no = no + 1; local at = no; out[at] = false
    no = no + 1; local nreads = no
    local newbody, late
    no, newbody, late = compute(body, cmsgpack.unpack(ARGV[b + 5]), out, no)
    out[nreads] = no - nreads
    no = no + 1; out[no] = #late
    for j = 1, #late do no = no + 1; out[no] = late[j] end
    local stored = cur
    if newbody then
      stored = string.sub(state, 1, 9) .. newbody
      redis.call('SET', key, stored, 'PX', ttl)
    end
    if want_state and stored then out[at] = stored end
  end
end
out[1] = overflows
return cmsgpack.pack(out)
)LUA";

}  // namespace fraud
