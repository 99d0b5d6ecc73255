-- The string and table functions whose C loops the count hook cannot reach, made stoppable.
--
-- The C pattern matcher backtracks without limit (one string.find can run for hours) and never
-- returns to the VM, so an interrupt or the time limit could not stop it. Each pattern call
-- first bounds the work the C function could do on this subject and pattern; within BUDGET the
-- C function runs, past it a port of Lua 5.4's matcher (lstrlib.c) does the same work in Lua,
-- where the hook reaches it. Results and errors are those of the C functions.
-- string.rep of empty strings and table.move/insert/remove/sort over huge ranges (a lying
-- __len) loop in C without allocating, so they run in pieces or with a Lua comparison.
local C = ...

local sbyte, schar, ssub, sformat = C.byte, C.char, C.sub, C.format
local C_find, C_match, C_gmatch, C_gsub, C_rep = C.find, C.match, C.gmatch, C.gsub, C.rep
local C_move, C_insert, C_remove, C_sort = C.move, C.insert, C.remove, C.sort
local concat, unpack, getinfo, raw_getmetatable, raw_error =
  C.concat, C.unpack, C.getinfo, C.getmetatable, C.error
local type, tostring, tonumber, select, rawget, rawequal =
  type, tostring, tonumber, select, rawget, rawequal
local tointeger, mtype, huge, maxinteger = math.tointeger, math.type, math.huge, math.maxinteger

-- Steps of the cost model below one C call may take: about 60 ms of C at worst (measured:
-- a model of 1e7 is 8 ms, 1e9 is 500 ms), far inside the second an interrupt may take.
local BUDGET = 1e8
-- Elements one C table.move/insert/remove call may touch.
local PIECE = 10000

-- --- argument checks, with the messages the C functions give ---------------------------------

local function typename(v)
  local mt = raw_getmetatable(v)
  local name = type(mt) == "table" and rawget(mt, "__name")
  if type(name) == "string" then return name end
  return type(v)
end

-- As luaL_argerror: named as the script called the function (a method call does not count
-- self), at the script's position. The API function is the last llmspell frame on the stack.
local function arg_error(i, fname, msg)
  local level = 2
  while true do
    local caller = getinfo(level + 1, "S")
    if caller == nil or caller.source ~= "=llmspell" then break end
    level = level + 1
  end
  local info = getinfo(level, "n")
  local name = info and info.name or fname
  if info and info.namewhat == "method" then
    i = i - 1
    if i == 0 then raw_error(sformat("calling '%s' on bad self (%s)", name, msg), level + 1) end
  end
  raw_error(sformat("bad argument #%d to '%s' (%s)", i, name, msg), level + 1)
end

local function type_error(i, fname, expected, v, present)
  arg_error(i, fname, expected .. " expected, got " .. (present and typename(v) or "no value"))
end

local function to_string(v, i, fname, present)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return tostring(v) end
  type_error(i, fname, "string", v, present)
end

local function to_integer(v, i, fname, present, default)
  if v == nil and default ~= nil then return default end
  local number = (type(v) == "number" or type(v) == "string") and tonumber(v) or nil
  local n = number ~= nil and tointeger(number) or nil
  if n == nil then
    if number ~= nil then arg_error(i, fname, "number has no integer representation") end
    type_error(i, fname, "number", v, present)
  end
  return n
end

-- --- how much work a pattern can make the C matcher do ---------------------------------------

local L_ESC, LPAREN, RPAREN, DOLLAR, DOT = 37, 40, 41, 36, 46
local LBRACKET, RBRACKET, CARET = 91, 93, 94
local STAR, PLUS, MINUS, QUESTION = 42, 43, 45, 63
local LETTER_B, LETTER_F, DIGIT_0, DIGIT_9 = 98, 102, 48, 57
local SPECIALS = "[%^%$%*%+%?%.%(%[%%%-]"

-- Where the class starting at byte index `p` of `b` ends (one past it); nil when malformed.
local function class_end_of(b, n, p)
  local c = b[p]
  p = p + 1
  if c == L_ESC then
    if p > n then return nil end
    return p + 1
  elseif c == LBRACKET then
    if b[p] == CARET then p = p + 1 end
    repeat
      if p > n then return nil end
      local cc = b[p]
      p = p + 1
      if cc == L_ESC and p <= n then p = p + 1 end
    until b[p] == RBRACKET
    return p + 1
  end
  return p
end

local function bytes_of(p)
  local b = {}
  for i = 1, #p do b[i] = sbyte(p, i) end
  return b
end

-- The cost model of one pattern. Per start position the matcher tries at most
--   (#pattern + 1) * 2^optional * product over expanding items of (run + 1)
-- steps: each `?` before the last item that can fail doubles the tries, each `*`/`+`/`-` before
-- it multiplies them by the run it expands over (at most the subject's length r; at most the
-- longest run of its class in this subject), and `%b` and back references scan up to r bytes
-- wherever they are. A quantifier after the last item that can fail never backtracks (the match
-- succeeds once it is reached), so it only adds r. Unanchored, there are r + 1 start positions.
local function analyse(p, from)
  local b, n = bytes_of(p), #p
  local info = { anchored = from == 2, m = n + 1, optional = 0, scans = 0, classes = {} }
  local kinds, texts, i = {}, {}, from
  while i <= n do
    local c = b[i]
    if c == LPAREN or c == RPAREN then
      i = i + 1
    elseif c == DOLLAR and i == n then
      kinds[#kinds + 1] = "fail"
      i = i + 1
    elseif c == L_ESC and b[i + 1] == LETTER_B then
      if i + 3 > n then info.malformed = true return info end
      kinds[#kinds + 1] = "scan"
      i = i + 4
    elseif c == L_ESC and b[i + 1] == LETTER_F then
      local ep = b[i + 2] == LBRACKET and class_end_of(b, n, i + 2)
      if not ep then info.malformed = true return info end
      kinds[#kinds + 1] = "fail"
      i = ep
    elseif c == L_ESC and b[i + 1] and b[i + 1] >= DIGIT_0 and b[i + 1] <= DIGIT_9 then
      kinds[#kinds + 1] = "scan"
      i = i + 2
    else
      local ep = class_end_of(b, n, i)
      if not ep then info.malformed = true return info end
      local q = b[ep]
      texts[#kinds + 1] = ssub(p, i, ep - 1)
      if q == STAR or q == MINUS then kinds[#kinds + 1] = "expand"; i = ep + 1
      elseif q == QUESTION then kinds[#kinds + 1] = "optional"; i = ep + 1
      elseif q == PLUS then kinds[#kinds + 1] = "expand+fail"; i = ep + 1
      else kinds[#kinds + 1] = "fail"; i = ep end
    end
  end
  local last = 0
  for k = 1, #kinds do
    local kind = kinds[k]
    if kind == "fail" or kind == "expand+fail" or kind == "scan" then last = k end
  end
  for k = 1, #kinds do
    local kind = kinds[k]
    if kind == "scan" then info.scans = info.scans + 1
    elseif k < last and (kind == "expand" or kind == "expand+fail") then
      info.classes[#info.classes + 1] = texts[k]
    elseif k < last and kind == "optional" then info.optional = info.optional + 1 end
  end
  return info
end

-- Two caches: find/match/gsub read a leading '^' as the anchor, gmatch as a character.
local ANCHORED, UNANCHORED, cached = {}, {}, 0
local function info_of(p, anchorable)
  local cache = anchorable and ANCHORED or UNANCHORED
  local info = cache[p]
  if info then return info end
  if cached > 512 then
    ANCHORED, UNANCHORED, cached = {}, {}, 0
    cache = anchorable and ANCHORED or UNANCHORED
  end
  info = analyse(p, (anchorable and sbyte(p, 1) == CARET) and 2 or 1)
  cache[p] = info
  cached = cached + 1
  return info
end

-- The longest run of bytes of `class` in s from `start` (the C matcher counts: "X+" is linear).
local function longest_run(s, start, class)
  local longest = 0
  for first, after in C_gmatch(s, "()" .. class .. "+()", start) do
    if after - first > longest then longest = after - first end
  end
  return longest
end

-- Whether the C matcher's work on s from `start` is within BUDGET: first with every run as
-- long as the subject, then (when that is too much) with the runs this subject really has.
local function within_budget(info, s, start)
  if info.malformed then return false end
  local r = #s - start + 2
  local per_start = (info.anchored and 1 or r) * info.m * 2 ^ info.optional * r ^ info.scans
  local classes = info.classes
  if per_start * r ^ #classes + r <= BUDGET then return true end
  if per_start + r > BUDGET then return false end
  for k = 1, #classes do
    per_start = per_start * (longest_run(s, start, classes[k]) + 1)
    if per_start + r > BUDGET then return false end
  end
  return true
end

-- --- the matcher, ported from lstrlib.c (Lua 5.4) ---------------------------------------------

local MAXCCALLS, MAXCAPTURES = 200, 32
local CAP_UNFINISHED, CAP_POSITION = -1, -2

-- Character classes as the C library of this process sees them (the C matcher's own answers).
local ALL, SINGLE, CLASS = {}, {}, {}
for c = 0, 255 do ALL[c] = true end
for letter in ("acdglpsuwx"):gmatch(".") do
  local set, negated = {}, {}
  for c = 0, 255 do
    local yes = C_find(schar(c), "^%" .. letter) ~= nil
    set[c], negated[c] = yes, not yes
  end
  CLASS[sbyte(letter)], CLASS[sbyte(letter:upper())] = set, negated
end
local function single(c)
  local set = SINGLE[c]
  if not set then set = { [c] = true }; SINGLE[c] = set end
  return set
end

-- As luaL_error: at the position of whoever called the API function (none when that is C).
local function fail(msg)
  local level = 2
  while true do
    local caller = getinfo(level + 1, "Sl")
    if caller == nil then break end
    if caller.source ~= "=llmspell" then
      if caller.what ~= "C" then msg = sformat("%s:%d: %s", caller.short_src, caller.currentline, msg) end
      break
    end
    level = level + 1
  end
  raw_error(msg, 0)
end

local function match_class(c, cl)
  local set = CLASS[cl]
  if set then return set[c] end
  return cl == c
end

local function in_bracket(c, b, p, ec)
  local sig = true
  if b[p + 1] == CARET then sig = false; p = p + 1 end
  p = p + 1
  while p < ec do
    local pc = b[p]
    if pc == L_ESC then
      p = p + 1
      if match_class(c, b[p]) then return sig end
    elseif b[p + 1] == MINUS and p + 2 < ec then
      p = p + 2
      if pc <= c and c <= b[p] then return sig end
    elseif pc == c then
      return sig
    end
    p = p + 1
  end
  return not sig
end

local PORTED, ported = {}, 0
local function compiled(p)
  local P = PORTED[p]
  if P then return P end
  if ported > 256 then PORTED, ported = {}, 0 end
  P = { b = bytes_of(p), n = #p, ends = {}, sets = {} }
  PORTED[p], ported = P, ported + 1
  return P
end

local function class_end(P, p)
  local e = P.ends[p]
  if e then return e end
  local b, n = P.b, P.n
  local q = p + 1
  local c = b[p]
  if c == L_ESC then
    if q > n then fail("malformed pattern (ends with '%')") end
    e = q + 1
  elseif c == LBRACKET then
    if b[q] == CARET then q = q + 1 end
    repeat
      if q > n then fail("malformed pattern (missing ']')") end
      local cc = b[q]
      q = q + 1
      if cc == L_ESC and q <= n then q = q + 1 end
    until b[q] == RBRACKET
    e = q + 1
  else
    e = q
  end
  P.ends[p] = e
  return e
end

-- The bytes the class at pattern index p (ending before ep) matches, as a 0..255 set.
local function set_at(P, p, ep)
  local set = P.sets[p]
  if set then return set end
  local b = P.b
  local c = b[p]
  if c == DOT then
    set = ALL
  elseif c == L_ESC then
    set = CLASS[b[p + 1]] or single(b[p + 1])
  elseif c == LBRACKET then
    set = {}
    for byte = 0, 255 do set[byte] = in_bracket(byte, b, p, ep - 1) end
  else
    set = single(c)
  end
  P.sets[p] = set
  return set
end

local match

local function max_expand(ms, s, p, ep)
  local set, src, n = set_at(ms.P, p, ep), ms.src, ms.n
  local i = 0
  while s + i <= n and set[sbyte(src, s + i)] do i = i + 1 end
  while i >= 0 do
    local res = match(ms, s + i, ep + 1)
    if res then return res end
    i = i - 1
  end
  return nil
end

local function min_expand(ms, s, p, ep)
  local set, src, n = set_at(ms.P, p, ep), ms.src, ms.n
  while true do
    local res = match(ms, s, ep + 1)
    if res then return res
    elseif s <= n and set[sbyte(src, s)] then s = s + 1
    else return nil end
  end
end

local function start_capture(ms, s, p, what)
  local level = ms.level
  if level >= MAXCAPTURES then fail("too many captures") end
  ms.cinit[level + 1], ms.clen[level + 1] = s, what
  ms.level = level + 1
  local res = match(ms, s, p)
  if res == nil then ms.level = ms.level - 1 end
  return res
end

local function end_capture(ms, s, p)
  local l = nil
  for level = ms.level, 1, -1 do
    if ms.clen[level] == CAP_UNFINISHED then l = level break end
  end
  if l == nil then fail("invalid pattern capture") end
  ms.clen[l] = s - ms.cinit[l]
  local res = match(ms, s, p)
  if res == nil then ms.clen[l] = CAP_UNFINISHED end
  return res
end

local function match_balance(ms, s, p)
  local P = ms.P
  if p >= P.n then fail("malformed pattern (missing arguments to '%b')") end
  local src, n, b = ms.src, ms.n, P.b
  if s > n or sbyte(src, s) ~= b[p] then return nil end
  local open, close, cont = b[p], b[p + 1], 1
  s = s + 1
  while s <= n do
    local ch = sbyte(src, s)
    if ch == close then
      cont = cont - 1
      if cont == 0 then return s + 1 end
    elseif ch == open then
      cont = cont + 1
    end
    s = s + 1
  end
  return nil
end

local function match_capture(ms, s, digit)
  local l = digit - DIGIT_0
  if l < 1 or l > ms.level or ms.clen[l] == CAP_UNFINISHED then
    fail(sformat("invalid capture index %%%d", l))
  end
  local len, init = ms.clen[l], ms.cinit[l]
  if len == CAP_POSITION then return nil end
  if ms.n - s + 1 >= len and ssub(ms.src, s, s + len - 1) == ssub(ms.src, init, init + len - 1) then
    return s + len
  end
  return nil
end

match = function(ms, s, p)
  local depth = ms.depth
  if depth == 0 then fail("pattern too complex") end
  ms.depth = depth - 1
  local P = ms.P
  local b, pn = P.b, P.n
  while p <= pn do
    local c = b[p]
    if c == LPAREN then
      if b[p + 1] == RPAREN then s = start_capture(ms, s, p + 2, CAP_POSITION)
      else s = start_capture(ms, s, p + 1, CAP_UNFINISHED) end
      break
    elseif c == RPAREN then
      s = end_capture(ms, s, p + 1)
      break
    elseif c == DOLLAR and p == pn then
      if s ~= ms.n + 1 then s = nil end
      break
    elseif c == L_ESC and b[p + 1] == LETTER_B then
      s = match_balance(ms, s, p + 2)
      if s == nil then break end
      p = p + 4
    elseif c == L_ESC and b[p + 1] == LETTER_F then
      p = p + 2
      if b[p] ~= LBRACKET then fail("missing '[' after '%f' in pattern") end
      local ep = class_end(P, p)
      local set = set_at(P, p, ep)
      local previous = s == 1 and 0 or sbyte(ms.src, s - 1)
      local current = s <= ms.n and sbyte(ms.src, s) or 0
      if set[previous] or not set[current] then s = nil break end
      p = ep
    elseif c == L_ESC and b[p + 1] and b[p + 1] >= DIGIT_0 and b[p + 1] <= DIGIT_9 then
      s = match_capture(ms, s, b[p + 1])
      if s == nil then break end
      p = p + 2
    else
      local ep = class_end(P, p)
      local suffix = b[ep]
      if not (s <= ms.n and set_at(P, p, ep)[sbyte(ms.src, s)]) then
        if suffix == STAR or suffix == QUESTION or suffix == MINUS then
          p = ep + 1
        else
          s = nil
          break
        end
      elseif suffix == QUESTION then
        local res = match(ms, s + 1, ep + 1)
        if res then s = res break end
        p = ep + 1
      elseif suffix == PLUS then
        s = max_expand(ms, s + 1, p, ep)
        break
      elseif suffix == STAR then
        s = max_expand(ms, s, p, ep)
        break
      elseif suffix == MINUS then
        s = min_expand(ms, s, p, ep)
        break
      else
        s = s + 1
        p = ep
      end
    end
  end
  ms.depth = ms.depth + 1
  return s
end

local function new_state(src, P)
  return { src = src, n = #src, P = P, level = 0, depth = MAXCCALLS, cinit = {}, clen = {} }
end

-- Capture i (1-based) of the match s..e-1: a string, a position, or the whole match.
local function capture(ms, i, s, e)
  if i > ms.level then
    if i ~= 1 then fail(sformat("invalid capture index %%%d", i)) end
    return ssub(ms.src, s, e - 1)
  end
  local len = ms.clen[i]
  if len == CAP_UNFINISHED then fail("unfinished capture") end
  if len == CAP_POSITION then return ms.cinit[i] end
  return ssub(ms.src, ms.cinit[i], ms.cinit[i] + len - 1)
end

local function captures(ms, s, e)
  local n = (ms.level == 0 and s) and 1 or ms.level
  if n == 0 then return end
  if n == 1 then return capture(ms, 1, s, e) end
  local out = {}
  for i = 1, n do out[i] = capture(ms, i, s, e) end
  return unpack(out, 1, n)
end

local function posrelat(pos, len)
  if pos > 0 then return pos
  elseif pos == 0 then return 1
  elseif pos < -len then return 1 end
  return len + pos + 1
end

local function plain_find(s, p, init)
  local lp = #p
  if lp == 0 then return init, init - 1 end
  local first, last_start = ssub(p, 1, 1), #s - lp + 1
  local i = init
  while i <= last_start do
    local j = C_find(s, first, i, true)
    if j == nil or j > last_start then return nil end
    if ssub(s, j, j + lp - 1) == p then return j, j + lp - 1 end
    i = j + 1
  end
  return nil
end

local function find_ported(find, s, p, init)
  local anchor = sbyte(p, 1) == CARET
  local ms = new_state(s, compiled(anchor and ssub(p, 2) or p))
  local last = #s + 1
  local s1 = init
  repeat
    ms.level = 0
    local res = match(ms, s1, 1)
    if res then
      if find then return s1, res - 1, captures(ms, nil, 0) end
      return captures(ms, s1, res)
    end
    s1 = s1 + 1
  until s1 > last or anchor
  return nil
end

local function gmatch_ported(s, p, init)
  local ms = new_state(s, compiled(p))
  local src, last, lastmatch = init, #s + 1, nil
  return function()
    while src <= last do
      ms.level = 0
      local e = match(ms, src, 1)
      if e and e ~= lastmatch then
        local start = src
        src, lastmatch = e, e
        return captures(ms, start, e)
      end
      src = src + 1
    end
    return nil
  end
end

-- The replacement string's pieces: literal text, and capture numbers (0 = the whole match).
local function template(ms, repl)
  local parts, i = {}, 1
  while true do
    local j = C_find(repl, "%", i, true)
    if not j then
      parts[#parts + 1] = ssub(repl, i)
      return parts
    end
    parts[#parts + 1] = ssub(repl, i, j - 1)
    local d = sbyte(repl, j + 1)
    if d == L_ESC then parts[#parts + 1] = "%"
    elseif d and d >= DIGIT_0 and d <= DIGIT_9 then parts[#parts + 1] = d - DIGIT_0
    else fail("invalid use of '%' in replacement string") end
    i = j + 2
  end
end

local function replacement(ms, s, e, repl, kind, parts)
  local value
  if kind == "function" then
    value = repl(captures(ms, s, e))
  elseif kind == "table" then
    value = repl[capture(ms, 1, s, e)]
  else
    local out = {}
    for k = 1, #parts do
      local part = parts[k]
      if type(part) == "string" then out[k] = part
      elseif part == 0 then out[k] = ssub(ms.src, s, e - 1)
      else out[k] = tostring(capture(ms, part, s, e)) end
    end
    return concat(out), true
  end
  if not value then return ssub(ms.src, s, e - 1), false end
  local t = type(value)
  if t ~= "string" and t ~= "number" then fail(sformat("invalid replacement value (a %s)", t)) end
  return tostring(value), true
end

local function gsub_ported(src, p, repl, max_n)
  local anchor = sbyte(p, 1) == CARET
  local ms = new_state(src, compiled(anchor and ssub(p, 2) or p))
  local kind, parts = type(repl), nil
  if kind == "number" then repl, kind = tostring(repl), "string" end
  local out, k = {}, 0
  local s, copied, lastmatch, n, changed = 1, 1, nil, 0, false
  local srcl = #src
  while n < max_n do
    ms.level = 0
    local e = match(ms, s, 1)
    if e and e ~= lastmatch then
      n = n + 1
      if kind == "string" and parts == nil then parts = template(ms, repl) end
      local piece, did = replacement(ms, s, e, repl, kind, parts)
      changed = did or changed
      out[k + 1], out[k + 2] = ssub(src, copied, s - 1), piece
      k = k + 2
      s, lastmatch, copied = e, e, e
    elseif s <= srcl then
      s = s + 1
    else
      break
    end
    if anchor then break end
  end
  if not changed then return src, n end
  out[k + 1] = ssub(src, copied)
  return concat(out), n
end

-- --- the library functions --------------------------------------------------------------------

local string_fns, table_fns = {}, {}

-- string.find and string.match: the C function when its work is bounded, else the port.
local function finder(find, fname)
  return function(...)
    local s, p, init, plain = ...
    if type(s) ~= "string" or type(p) ~= "string" or (init ~= nil and mtype(init) ~= "integer") then
      local count = select("#", ...)
      s = to_string(s, 1, fname, count >= 1)
      p = to_string(p, 2, fname, count >= 2)
      init = to_integer(init, 3, fname, count >= 3, 1)
    end
    local ls = #s
    local start = posrelat(init or 1, ls)
    if start > ls + 1 then return nil end
    if find and (plain or C_find(p, SPECIALS) == nil) then
      if (ls - start + 2) * (#p + 1) <= BUDGET then return C_find(...) end
      return plain_find(s, p, start)
    end
    if within_budget(info_of(p, true), s, start) then
      if find then return C_find(...) end
      return C_match(...)
    end
    return find_ported(find, s, p, start)
  end
end

string_fns.find = finder(true, "find")
string_fns.match = finder(false, "match")

string_fns.gmatch = function(...)
  local s, p, init = ...
  if type(s) ~= "string" or type(p) ~= "string" or (init ~= nil and mtype(init) ~= "integer") then
    local count = select("#", ...)
    s = to_string(s, 1, "gmatch", count >= 1)
    p = to_string(p, 2, "gmatch", count >= 2)
    init = to_integer(init, 3, "gmatch", count >= 3, 1)
  end
  local ls = #s
  local start = posrelat(init or 1, ls)
  if start > ls + 1 then start = ls + 2 end
  if within_budget(info_of(p, false), s, start) then return C_gmatch(...) end
  return gmatch_ported(s, p, start)
end

string_fns.gsub = function(...)
  local src, p, repl, max_n = ...
  local count = select("#", ...)
  local original = src
  if type(src) ~= "string" or type(p) ~= "string" then
    src = to_string(src, 1, "gsub", count >= 1)
    p = to_string(p, 2, "gsub", count >= 2)
  end
  local kind = type(repl)
  if kind ~= "string" and kind ~= "number" and kind ~= "function" and kind ~= "table" then
    type_error(3, "gsub", "string/function/table", repl, count >= 3)
  end
  max_n = to_integer(max_n, 4, "gsub", count >= 4, #src + 1)
  if within_budget(info_of(p, true), src, 1) then return C_gsub(...) end
  local result, n = gsub_ported(src, p, repl, max_n)
  if rawequal(result, src) then return original, n end
  return result, n
end

-- C loops n times, copying nothing for empty strings and a byte at a time for "x": a result
-- past REP_BLOCK is built from blocks of C repetitions, joined once.
local REP_BLOCK = 1 << 24
string_fns.rep = function(...)
  local s, n, sep = ...
  local count = select("#", ...)
  s = to_string(s, 1, "rep", count >= 1)
  n = to_integer(n, 2, "rep", count >= 2)
  if sep ~= nil then sep = to_string(sep, 3, "rep", true) end
  if n <= 0 or (s == "" and (sep == nil or sep == "")) then return "" end
  local unit = sep and sep ~= "" and s .. sep or s
  local size = #unit * n
  if size <= REP_BLOCK or size >= 2 ^ 40 then return C_rep(...) end -- C refuses the huge at once
  local per_block = REP_BLOCK // #unit
  if per_block < 1 then per_block = 1 end
  local block, parts, remaining = C_rep(unit, per_block), {}, n - 1
  while remaining >= per_block do
    parts[#parts + 1] = block
    remaining = remaining - per_block
  end
  if remaining > 0 then parts[#parts + 1] = C_rep(unit, remaining) end
  parts[#parts + 1] = s
  return concat(parts)
end

-- --- tables ----------------------------------------------------------------------------------

local function check_table(v, i, fname, present, read, write, len)
  if type(v) == "table" then return end
  local mt = raw_getmetatable(v)
  if mt and (not read or rawget(mt, "__index") ~= nil) and (not write or rawget(mt, "__newindex") ~= nil)
    and (not len or rawget(mt, "__len") ~= nil) then
    return
  end
  type_error(i, fname, "table", v, present)
end

-- table.move in pieces of PIECE elements, in the order the C function moves them.
local function move(a1, f, e, t, a2)
  local backward = not (t > e or t <= f or (not rawequal(a1, a2) and a1 ~= a2))
  if backward then
    local hi = e
    while hi >= f do
      local lo = hi - PIECE + 1
      if lo < f then lo = f end
      C_move(a1, lo, hi, t + (lo - f), a2)
      hi = lo - 1
    end
  else
    local lo = f
    while lo <= e do
      local hi = lo + PIECE - 1
      if hi > e then hi = e end
      C_move(a1, lo, hi, t + (lo - f), a2)
      lo = hi + 1
    end
  end
end

table_fns.move = function(...)
  local a1, f, e, t, a2 = ...
  local count = select("#", ...)
  check_table(a1, 1, "move", count >= 1, true)
  f = to_integer(f, 2, "move", count >= 2)
  e = to_integer(e, 3, "move", count >= 3)
  t = to_integer(t, 4, "move", count >= 4)
  if a2 ~= nil then check_table(a2, 5, "move", true, false, true) end
  if e < f or e - f < PIECE then return C_move(...) end
  if not (f > 0 or e < maxinteger + f) then arg_error(3, "move", "too many elements to move") end
  if t > maxinteger - (e - f + 1) + 1 then arg_error(4, "move", "destination wrap around") end
  if a2 == nil then a2 = a1 end
  move(a1, f, e, t, a2)
  return a2
end

-- insert/remove shift #t - pos elements; #t comes from __len, which may say anything.
table_fns.insert = function(...)
  local count = select("#", ...)
  local t, pos, v = ...
  check_table(t, 1, "insert", count >= 1, true, true, true)
  if count ~= 3 then return C_insert(...) end
  local e = #t + 1
  pos = to_integer(pos, 2, "insert", true)
  if e - pos < PIECE then return C_insert(...) end
  if pos < 1 or pos > e then arg_error(2, "insert", "position out of bounds") end
  move(t, pos, e - 1, pos + 1, t)
  t[pos] = v
end

table_fns.remove = function(...)
  local count = select("#", ...)
  local t, pos = ...
  check_table(t, 1, "remove", count >= 1, true, true, true)
  if pos == nil then return C_remove(...) end
  local size = #t
  pos = to_integer(pos, 2, "remove", true)
  if size - pos < PIECE then return C_remove(...) end
  if pos ~= size and (pos < 1 or pos > size + 1) then arg_error(2, "remove", "position out of bounds") end
  local result = t[pos]
  move(t, pos + 1, size, pos, t)
  t[size] = nil
  return result
end

-- Without a comparison function the C sort compares in C, where the hook cannot reach it; a
-- long sort gets a Lua one (a C function as comparison is wrapped in Lua the same way).
local SORT_IN_C = 50000
local function less(a, b) return a < b end
table_fns.sort = function(...)
  local t, comp = ...
  local count = select("#", ...)
  check_table(t, 1, "sort", count >= 1, true, true, true)
  if comp ~= nil and type(comp) ~= "function" then type_error(2, "sort", "function", comp, true) end
  if #t <= SORT_IN_C then return C_sort(...) end
  if comp == nil then return C_sort(t, less) end
  return C_sort(t, function(a, b) return comp(a, b) end)
end

-- `ported` forces the port whatever the budget (for tests comparing it with the C functions).
local ported = {
  find = function(s, p, init, plain)
    local start = posrelat(init or 1, #s)
    if start > #s + 1 then return nil end
    if plain or C_find(p, SPECIALS) == nil then return plain_find(s, p, start) end
    return find_ported(true, s, p, start)
  end,
  match = function(s, p, init)
    local start = posrelat(init or 1, #s)
    if start > #s + 1 then return nil end
    return find_ported(false, s, p, start)
  end,
  gmatch = function(s, p, init)
    local start = posrelat(init or 1, #s)
    if start > #s + 1 then start = #s + 2 end
    return gmatch_ported(s, p, start)
  end,
  gsub = function(s, p, repl, max_n) return gsub_ported(s, p, repl, max_n or #s + 1) end,
}

return { string = string_fns, table = table_fns, ported = ported }
