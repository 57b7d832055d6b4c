#include "connectors/redis/feature_script.h"

namespace fraud {

const char* const kFeatureScript = R"LUA(
local agg = ARGV[1]
local n = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local flat = redis.call('HGETALL', KEYS[1])
local b, d, applied = {}, {}, {}
local newest = nil
for i = 1, #flat, 2 do
  local f, v = flat[i], flat[i + 1]
  local c = string.sub(f, 1, 1)
  if c == 'b' then
    local cnt, num, sum, mn, mx = string.match(v, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
    b[tonumber(string.sub(f, 2))] = {tonumber(cnt), tonumber(num), tonumber(sum), tonumber(mn), tonumber(mx)}
  elseif c == 'd' then
    local sep = string.find(f, ':', 2, true)
    local bk = tonumber(string.sub(f, 2, sep - 1))
    local val = string.sub(f, sep + 1)
    if not d[val] then d[val] = {} end
    d[val][bk] = true
  elseif c == 'p' then
    applied[string.sub(f, 2)] = tonumber(v)
  elseif f == 'n' then
    newest = tonumber(v)
  end
end
local function fmt(x) return string.format('%.17g', x) end
local out = {}
local dirty = false
local dirty_b, dirty_d, dirty_p = {}, {}, {}
local i = 4
while i + 5 <= #ARGV do
  local flags = tonumber(ARGV[i])
  local bk = tonumber(ARGV[i + 1])
  local num, text, part, off = ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], tonumber(ARGV[i + 5])
  i = i + 6
  local update = (flags % 2) == 1
  local read = flags >= 2
  if update and part ~= '' then
    local prev = applied[part]
    if prev and off <= prev then
      update = false
    else
      applied[part] = off
      dirty_p[part] = true
      dirty = true
    end
  end
  if update then
    if newest == nil or bk > newest then newest = bk end
    dirty = true
    if bk >= newest - 2 * n + 1 then
      if agg == 'distinct' then
        if text ~= '' then
          if not d[text] then d[text] = {} end
          if not d[text][bk] then
            d[text][bk] = true
            dirty_d[bk .. ':' .. text] = true
          end
        end
      else
        local e = b[bk]
        if not e then e = {0, 0, 0, 0, 0}; b[bk] = e end
        e[1] = e[1] + 1
        if num ~= '' then
          local x = tonumber(num)
          if e[2] == 0 then e[4] = x; e[5] = x
          else
            if x < e[4] then e[4] = x end
            if x > e[5] then e[5] = x end
          end
          e[2] = e[2] + 1
          e[3] = e[3] + x
        end
        dirty_b[bk] = true
      end
    end
  end
  if read then
    local lo = bk - n + 1
    if agg == 'distinct' then
      local cnt = 0
      for _, bs in pairs(d) do
        for x, _ in pairs(bs) do
          if x >= lo and x <= bk then cnt = cnt + 1; break end
        end
      end
      out[#out + 1] = tostring(cnt)
    else
      local keys = {}
      for x, _ in pairs(b) do
        if x >= lo and x <= bk then keys[#keys + 1] = x end
      end
      table.sort(keys)
      local cnt, numc, sum, mn, mx = 0, 0, 0, nil, nil
      for _, x in ipairs(keys) do
        local e = b[x]
        cnt = cnt + e[1]
        if e[2] > 0 then
          numc = numc + e[2]
          sum = sum + e[3]
          if mn == nil or e[4] < mn then mn = e[4] end
          if mx == nil or e[5] > mx then mx = e[5] end
        end
      end
      if agg == 'count' then out[#out + 1] = tostring(cnt)
      elseif agg == 'sum' then out[#out + 1] = fmt(sum)
      elseif numc == 0 then out[#out + 1] = ''
      elseif agg == 'min' then out[#out + 1] = fmt(mn)
      elseif agg == 'max' then out[#out + 1] = fmt(mx)
      else out[#out + 1] = fmt(sum / numc) end
    end
  end
end
if dirty then
  local keep = newest - 2 * n + 1
  local set = {'n', tostring(newest)}
  local del = {}
  for x, e in pairs(b) do
    if x < keep then del[#del + 1] = 'b' .. x
    elseif dirty_b[x] then
      set[#set + 1] = 'b' .. x
      set[#set + 1] = e[1] .. ' ' .. e[2] .. ' ' .. fmt(e[3]) .. ' ' .. fmt(e[4]) .. ' ' .. fmt(e[5])
    end
  end
  for val, bs in pairs(d) do
    for x, _ in pairs(bs) do
      if x < keep then del[#del + 1] = 'd' .. x .. ':' .. val
      elseif dirty_d[x .. ':' .. val] then
        set[#set + 1] = 'd' .. x .. ':' .. val
        set[#set + 1] = '1'
      end
    end
  end
  for p, _ in pairs(dirty_p) do
    set[#set + 1] = 'p' .. p
    set[#set + 1] = tostring(applied[p])
  end
  redis.call('HSET', KEYS[1], unpack(set))
  if #del > 0 then redis.call('HDEL', KEYS[1], unpack(del)) end
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return out
)LUA";

}  // namespace fraud
