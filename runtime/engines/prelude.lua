-- The llmspell Lua prelude: sandbox, interrupt-safe pcall/coroutines, print/io routed to the host,
-- the pretty printer, API wrapping and the cell runner. Loaded once per LuaRuntime.
local host, safe = ...

local raw_pcall, raw_xpcall, raw_error, raw_load = pcall, xpcall, error, load
local sethook, gethook, traceback = debug.sethook, debug.gethook, debug.traceback
local co_create, co_resume, co_close = coroutine.create, coroutine.resume, coroutine.close
local pack, unpack, concat, sort = table.pack, table.unpack, table.concat, table.sort
local select, type, tostring, rawequal, pairs, next = select, type, tostring, rawequal, pairs, next
local getmetatable, setmetatable, rawget, tointeger = getmetatable, setmetatable, rawget, math.tointeger
local srep, sfmt, sgsub, sbyte, smatch = string.rep, string.format, string.gsub, string.byte, string.match

local check = host.check -- Python: true when the running cell must stop (interrupt, timeout)
local HOOK_COUNT = host.hook_count
local MEMORY_ERROR = "not enough memory"

-- A unique error value: a hook raised it, nothing in user code may keep it.
local ABORT = setmetatable({}, { __tostring = function() return "execution aborted" end })
local function hook()
  if check() then raw_error(ABORT, 0) end
end

local function must_propagate(err)
  return rawequal(err, ABORT) or err == MEMORY_ERROR or check()
end

local function rethrow_if_aborting(ok, ...)
  if not ok and must_propagate((...)) then raw_error((...), 0) end
  return ok, ...
end

-- pcall/xpcall/coroutines that an interrupt, timeout or memory error cannot be swallowed by.
pcall = function(f, ...) return rethrow_if_aborting(raw_pcall(f, ...)) end
xpcall = function(f, handler, ...)
  local function guarded(e)
    if must_propagate(e) then return e end
    return handler(e)
  end
  return rethrow_if_aborting(raw_xpcall(f, guarded, ...))
end
coroutine.create = function(f)
  local co = co_create(f)
  sethook(co, hook, "", HOOK_COUNT) -- hooks are per coroutine; a new one would run unwatched
  return co
end
coroutine.resume = function(co, ...) return rethrow_if_aborting(co_resume(co, ...)) end
coroutine.wrap = function(f)
  local co = coroutine.create(f)
  return function(...)
    local r = pack(co_resume(co, ...))
    if r[1] then return unpack(r, 2, r.n) end
    if co_close then co_close(co) end
    raw_error(r[2], 0)
  end
end

-- Output and input go through the host (stream messages in the kernel, stdout in the CLI).
local write_out, write_err, read_line = host.write_out, host.write_err, host.read_line

local KEYWORDS = {}
for _, k in ipairs({ "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until",
  "while" }) do KEYWORDS[k] = true end

local API_NAMES = setmetatable({}, { __mode = "k" }) -- API function → "State.save"
local PROXY_REFS = setmetatable({}, { __mode = "k" }) -- API proxy table → Python object ref
local NO_DISPLAY = setmetatable({}, { __mode = "k" }) -- values a cell result does not show
local RECORD_COLUMNS = setmetatable({}, { __mode = "k" }) -- API record lists → their columns

local function quote(s)
  return '"' .. sgsub(s, '[%c"\\]', function(c)
    if c == "\n" then return "\\n" elseif c == "\t" then return "\\t"
    elseif c == "\r" then return "\\r" elseif c == '"' then return '\\"'
    elseif c == "\\" then return "\\\\" end
    return sfmt("\\%03d", sbyte(c))
  end) .. '"'
end

local function scalar(v)
  local t = type(v)
  if t == "string" then return quote(v) end
  if t == "number" then
    if v ~= v then return "0/0" end
    if v == math.huge then return "math.huge" end
    if v == -math.huge then return "-math.huge" end
    return tostring(v)
  end
  if t == "function" and API_NAMES[v] then return "function: " .. API_NAMES[v] end
  return tostring(v)
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local LINE_WIDTH = 72

-- A readable Lua constructor for any value: depth/length limited, cycles marked.
local function pretty(value, max_depth, max_items, max_string)
  max_depth, max_items, max_string = max_depth or 4, max_items or 100, max_string or 10000
  local on_path = {}
  local function fmt(v, depth, indent)
    if type(v) == "string" and #v > max_string then
      return quote(v:sub(1, max_string)) .. " --[[ " .. (#v - max_string) .. " more bytes ]]"
    end
    if type(v) ~= "table" then return scalar(v) end
    local mt = getmetatable(v)
    if mt and rawget(mt, "__tostring") then return tostring(v) end
    if on_path[v] then return "<cycle>" end
    if depth > max_depth then return "{...}" end
    on_path[v] = true
    local parts, n, count = {}, 0, 0
    while v[n + 1] ~= nil do n = n + 1 end
    for i = 1, n do
      count = count + 1
      if count > max_items then break end
      parts[#parts + 1] = fmt(v[i], depth + 1, indent .. "  ")
    end
    local keys = {}
    for k in pairs(v) do
      if not (type(k) == "number" and tointeger(k) and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    sort(keys, key_order)
    for _, k in ipairs(keys) do
      count = count + 1
      if count > max_items then break end
      local label
      if type(k) == "string" and smatch(k, "^[%a_][%w_]*$") and not KEYWORDS[k] then label = k
      else label = "[" .. scalar(k) .. "]" end
      parts[#parts + 1] = label .. " = " .. fmt(v[k], depth + 1, indent .. "  ")
    end
    on_path[v] = nil
    local total = n + #keys
    if total > max_items then parts[#parts + 1] = "--[[ " .. (total - max_items) .. " more ]]" end
    if #parts == 0 then return "{}" end
    local flat = "{" .. concat(parts, ", ") .. "}"
    if #flat + #indent <= LINE_WIDTH and not flat:find("\n", 1, true) then return flat end
    return "{\n" .. indent .. "  " .. concat(parts, ",\n" .. indent .. "  ") .. ",\n" .. indent .. "}"
  end
  return fmt(value, 1, "")
end

local function show(v)
  if type(v) == "string" then return v end
  return pretty(v)
end

print = function(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = show((select(i, ...))) end
  write_out(concat(parts, "\t") .. "\n")
end

local function file_writer(write, name)
  return function(self, ...)
    local parts = {}
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      local t = type(v)
      if t ~= "string" and t ~= "number" then
        raw_error(sfmt("bad argument #%d to '%s' (string expected, got %s)", i, name, t), 2)
      end
      parts[i] = tostring(v)
    end
    write(concat(parts))
    return self
  end
end

local function stream(write, label)
  local methods = {
    write = file_writer(write, "write"),
    flush = function(self) return self end,
    setvbuf = function() return true end,
    close = function() return nil, "cannot close standard file" end,
  }
  local f = setmetatable({}, { __index = methods, __name = "FILE*",
    __tostring = function() return "file (" .. label .. ")" end })
  NO_DISPLAY[f] = true
  return f
end

local stdout, stderr = stream(write_out, "stdout"), stream(write_err, "stderr")

local function read_one(fmt)
  fmt = fmt or "l"
  if type(fmt) == "string" then fmt = fmt:gsub("^%*", "") end
  local ok, line = read_line("")
  if not ok then raw_error(line, 0) end
  if line == nil then return nil end
  if fmt == "n" then return tonumber(line) end
  if fmt == "L" then return line .. "\n" end
  if type(fmt) == "number" then return line:sub(1, fmt) end
  if fmt == "l" or fmt == "a" then return line end
  raw_error("bad argument #1 to 'read' (invalid format)", 2)
end

-- Lua 5.4 warnings go to the host's stderr (on by default here; "@off"/"@on" toggle them).
local warnings_on = true
warn = function(first, ...)
  local parts = { first, ... }
  for i = 1, select("#", first, ...) do
    if type(parts[i]) == "number" then parts[i] = tostring(parts[i])
    elseif type(parts[i]) ~= "string" then
      raw_error(sfmt("bad argument #%d to 'warn' (string expected, got %s)", i, type(parts[i])), 2)
    end
  end
  local msg = concat(parts)
  if select("#", ...) == 0 and smatch(msg, "^@") then
    if msg == "@on" then warnings_on = true elseif msg == "@off" then warnings_on = false end
    return
  end
  if warnings_on then write_err("Lua warning: " .. msg .. "\n") end
end

io.write = function(...) return stdout:write(...) end
io.read = function(...)
  local n = select("#", ...)
  if n <= 1 then return read_one((...)) end
  local out = {}
  for i = 1, n do out[i] = read_one((select(i, ...))) end
  return unpack(out, 1, n)
end
io.stdout, io.stderr = stdout, stderr

-- The safe sandbox (spec: architecture.md, Engines).
python = nil
if safe then
  os.execute, os.exit, os.remove, os.rename, os.tmpname = nil, nil, nil, nil, nil
  io.popen, io.open, io.lines, io.input, io.output, io.tmpfile, io.close = nil, nil, nil, nil, nil, nil, nil
  package.loadlib = nil
  package.cpath = ""
  package.searchers = { package.searchers[1], package.searchers[2] }
  dofile, loadfile = nil, nil
  string.dump = nil
  debug = { traceback = traceback }
  load = function(chunk, name, mode, ...)
    if select("#", ...) > 0 then return raw_load(chunk, name, "t", ...) end
    return raw_load(chunk, name, "t")
  end
end

-- API wrapping: `call` is a Python function returning (true, result) or (false, message).
local function api_function(call, qualified, proxy)
  local f = function(first, ...)
    local ok, res
    if proxy ~= nil and rawequal(first, proxy) then ok, res = call(...)
    else ok, res = call(first, ...) end
    if not ok then raw_error(res, 0) end
    return res
  end
  API_NAMES[f] = qualified
  return f
end

local function api_proxy(label, ref, functions, members)
  local proxy = {}
  for name, pair in pairs(functions) do proxy[name] = api_function(pair[1], pair[2], proxy) end
  for name, value in pairs(members or {}) do proxy[name] = value end
  if ref ~= nil then PROXY_REFS[proxy] = ref end
  return setmetatable(proxy, { __tostring = function() return label end, __name = label })
end

local function proxy_ref(t) return PROXY_REFS[t] end

-- Keys of a value for completion: fields, plus the __index chain of its metatable.
local function keys_of(v)
  local out, seen = {}, {}
  local depth = 0
  while v ~= nil and depth < 8 do
    if type(v) == "table" then
      for k, item in pairs(v) do
        if type(k) == "string" and not seen[k] then
          seen[k] = true
          out[#out + 1] = k
          out[#out + 1] = type(item)
        end
      end
    end
    local mt = getmetatable(v)
    local index = type(mt) == "table" and rawget(mt, "__index") or nil
    if type(index) ~= "table" then break end
    v = index
    depth = depth + 1
  end
  return out
end

-- Run a compiled chunk under the hook; results come back packed, errors as a record.
local function error_record(e)
  if rawequal(e, ABORT) then return { kind = "abort" } end
  local msg
  if type(e) == "string" or type(e) == "number" then msg = tostring(e)
  elseif (type(e) == "table" or type(e) == "userdata") and type(getmetatable(e)) == "table"
    and rawget(getmetatable(e), "__tostring") then msg = tostring(e) -- incl. Python exceptions
  elseif e == nil then msg = "nil"
  else msg = "(error object is a " .. type(e) .. " value)" end
  if msg == MEMORY_ERROR then return { kind = "memory", msg = msg } end
  return { kind = "error", msg = msg, traceback = traceback("", 2) }
end

local function run(fn)
  sethook(hook, "", HOOK_COUNT)
  local r = pack(raw_xpcall(fn, error_record))
  sethook()
  if r[1] then return true, pack(unpack(r, 2, r.n)) end
  local rec = r[2]
  if type(rec) ~= "table" then rec = { kind = (rec == MEMORY_ERROR) and "memory" or "error", msg = tostring(rec) } end
  return false, rec
end

-- Call a script function from the host (callbacks); errors come back as a message. Outside a
-- running cell (hooks around one) it runs under the hook too, so an interrupt still stops it.
local function call_function(fn, args)
  local unwatched = gethook() == nil
  if unwatched then sethook(hook, "", HOOK_COUNT) end
  local r = pack(raw_xpcall(fn, error_record, unpack(args, 1, args.n)))
  if unwatched then sethook() end
  if r[1] then return true, pack(unpack(r, 2, r.n)) end
  return false, r[2]
end

-- "@name" like a file: Lua shortens a long name from the front ("...dir/job.lua:2:"), so the
-- file name and line stay in error messages.
local function compile(code, name)
  return raw_load(code, "@" .. name, "t")
end

-- A list of records an API returned keeps its columns, so a cell showing it gets the table
-- even when a record lacks a field (a nil value).
local function mark_records(t, columns) RECORD_COLUMNS[t] = columns; return t end
local function record_columns(t) return RECORD_COLUMNS[t] end

local function displayable(results)
  if results.n == 0 or (results.n == 1 and results[1] == nil) then return false end
  if results.n == 1 and NO_DISPLAY[results[1]] then return false end
  return true
end

-- Streaming.create over a coroutine (yields cannot cross into the host, so this lives in Lua).
local function streaming_create(fn)
  if type(fn) ~= "function" then
    raw_error("Streaming.create: fn must be a function, got " .. type(fn), 0)
  end
  local co = coroutine.create(fn)
  local stream = {}
  local function step()
    if coroutine.status(co) == "dead" then return false end
    local r = pack(coroutine.resume(co))
    if not r[1] then raw_error(r[2], 0) end
    if coroutine.status(co) == "dead" and r.n < 2 then return false end
    return true, r[2]
  end
  function stream:next()
    local ok, value = step()
    if ok then return value end
    return nil
  end
  function stream:isDone() return coroutine.status(co) == "dead" end
  function stream:collect()
    local out = {}
    while true do
      local ok, value = step()
      if not ok then break end
      out[#out + 1] = value
    end
    return out
  end
  API_NAMES[stream.next] = "Stream.next"
  API_NAMES[stream.isDone] = "Stream.isDone"
  API_NAMES[stream.collect] = "Stream.collect"
  return setmetatable(stream, { __tostring = function() return "<Stream>" end, __name = "Stream" })
end

return {
  streaming_create = streaming_create,
  pretty = pretty,
  show = show,
  api_proxy = api_proxy,
  api_function = api_function,
  proxy_ref = proxy_ref,
  api_name = function(f) return API_NAMES[f] end,
  keys_of = keys_of,
  count_keys = function(t)
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    return n
  end,
  run = run,
  call_function = call_function,
  compile = compile,
  displayable = displayable,
  mark_records = mark_records,
  record_columns = record_columns,
  pack = pack,
  unpack = function(t) return unpack(t, 1, t.n) end,
  type = type,
  getmetatable = getmetatable,
  stdout = stdout,
  stderr = stderr,
  traceback = traceback,
}
