-- The llmspell Lua prelude: sandbox, interrupt-safe pcall/coroutines, print/io routed to the host,
-- the pretty printer, API wrapping, stream producers and the cell runner. Loaded once per
-- LuaRuntime; the table it returns is what the Python side of the engine calls.
local host, safe = ...

local raw_pcall, raw_xpcall, raw_error, raw_load = pcall, xpcall, error, load
local sethook, gethook, traceback = debug.sethook, debug.gethook, debug.traceback
local getinfo = debug.getinfo -- kept for messages that say where a script was (not for scripts)
local co_create, co_resume, co_close, co_status =
  coroutine.create, coroutine.resume, coroutine.close, coroutine.status
local pack, unpack, concat, sort = table.pack, table.unpack, table.concat, table.sort
local select, type, tostring, rawequal, pairs = select, type, tostring, rawequal, pairs
local getmetatable, setmetatable, rawget, tointeger = getmetatable, setmetatable, rawget, math.tointeger
local sfmt, sgsub, sbyte, smatch = string.format, string.gsub, string.byte, string.match

local check = host.check -- Python: true when the running cell must stop (interrupt, timeout)
local HOOK_COUNT = host.hook_count
local MEMORY_ERROR = "not enough memory"

-- The innermost frame of script code from stack level `level` of the caller up (skipping C
-- and prelude frames): its getinfo table, or nil.
local function script_frame(level)
  level = level + 1
  while true do
    local info = getinfo(level, "Sl")
    if info == nil then return nil end
    if info.what ~= "C" and info.source ~= "=llmspell" and info.currentline > 0 then return info end
    level = level + 1
  end
end

local function location(info)
  return info and (info.short_src .. ":" .. info.currentline) or nil
end

-- A unique error value: a hook raised it, nothing in user code may keep it.
local ABORT = setmetatable({}, { __tostring = function() return "execution aborted" end })
local stopped_at -- "[cell 3]:12": where the hook stopped the script, for the error message
local function hook()
  if check() then
    stopped_at = location(script_frame(2)) -- only when stopping: the hook stays cheap
    raw_error(ABORT, 0)
  end
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
local function hooked_create(f)
  local co = co_create(f)
  sethook(co, hook, "", HOOK_COUNT) -- hooks are per coroutine; a new one would run unwatched
  return co
end
coroutine.create = hooked_create
coroutine.resume = function(co, ...) return rethrow_if_aborting(co_resume(co, ...)) end
coroutine.wrap = function(f)
  local co = hooked_create(f)
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
for _, k in ipairs(host.keywords) do KEYWORDS[k] = true end

-- API function or proxy table → "State.save", "State", "Timer"
local API_NAMES = setmetatable({}, { __mode = "k" })
-- API proxy table → the Python object behind it. Weak keys: when Lua collects the proxy, the
-- entry and with it Lua's reference to the Python object go too.
local PROXY_OBJECTS = setmetatable({}, { __mode = "k" })
local NO_DISPLAY = setmetatable({}, { __mode = "k" }) -- values a cell result does not show
-- Lists of records an API returned → their columns, so a cell showing one gets a table even
-- when a record lacks a field (a nil value).
local RECORD_COLUMNS = setmetatable({}, { __mode = "k" })

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

-- `functions` maps a name to {call, qualified name}; `members` holds plain fields (or is nil).
local function api_proxy(label, qualified, object, functions, members)
  local proxy = {}
  for name, pair in pairs(functions) do proxy[name] = api_function(pair[1], pair[2], proxy) end
  for name, value in pairs(members or {}) do proxy[name] = value end
  API_NAMES[proxy] = qualified
  PROXY_OBJECTS[proxy] = object
  return setmetatable(proxy, { __tostring = function() return label end, __name = label })
end

-- help(x) where x is nil: `on_nil(source, line)` is told where help was called, so the host
-- can name what the script wrote (`State.nope`); help() without an argument is the overview.
local function help_guard(help, on_nil)
  local guarded = function(...)
    if select("#", ...) > 0 and (...) == nil then
      local info = script_frame(2)
      if info then return on_nil(info.source, info.currentline) end
      return on_nil(nil, 0)
    end
    return help(...)
  end
  API_NAMES[guarded] = API_NAMES[help]
  return guarded
end

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

-- An error value as the script's error messages show it.
local function error_message(e)
  if type(e) == "string" or type(e) == "number" then return tostring(e) end
  if (type(e) == "table" or type(e) == "userdata") and type(getmetatable(e)) == "table"
    and rawget(getmetatable(e), "__tostring") then return tostring(e) end -- incl. Python exceptions
  if e == nil then return "nil" end
  return "(error object is a " .. type(e) .. " value)"
end

-- Run a compiled chunk under the hook; results come back packed, errors as a record.
local function error_record(e)
  if rawequal(e, ABORT) then
    return { kind = "abort", where = stopped_at or location(script_frame(2)) }
  end
  local msg = error_message(e)
  if msg == MEMORY_ERROR then return { kind = "memory", msg = msg } end
  return { kind = "error", msg = msg, traceback = traceback("", 2) }
end

local function run(fn)
  stopped_at = nil
  sethook(hook, "", HOOK_COUNT)
  local r = pack(raw_xpcall(fn, error_record))
  sethook()
  if r[1] then return true, pack(unpack(r, 2, r.n)) end
  local rec = r[2]
  if type(rec) ~= "table" then rec = { kind = (rec == MEMORY_ERROR) and "memory" or "error", msg = tostring(rec) } end
  return false, rec
end

-- "@name" like a file: Lua shortens a long name from the front ("...dir/job.lua:2:"), so the
-- file name and line stay in error messages.
local function compile(code, name)
  return raw_load(code, "@" .. name, "t")
end

local function displayable(results)
  if results.n == 0 or (results.n == 1 and results[1] == nil) then return false end
  if results.n == 1 and NO_DISPLAY[results[1]] then return false end
  return true
end

-- A Streaming.create producer: a coroutine the host's Stream resumes once per step (a yield
-- cannot cross into the host). A step returns (has_value, value, finished); a producer's error
-- is raised as it was, so the host can hand the same value back to the script.
local function producer(fn)
  local co = hooked_create(fn)
  return function()
    if co_status(co) == "dead" then return false, nil, true end
    local r = pack(co_resume(co))
    if not r[1] then raw_error(r[2], 0) end
    local finished = co_status(co) == "dead"
    if finished and r.n < 2 then return false, nil, true end
    return true, r[2], finished
  end
end

return {
  aborting = must_propagate,
  api_function = api_function,
  api_name = function(v) return API_NAMES[v] end,
  api_proxy = api_proxy,
  compile = compile,
  count_keys = function(t)
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    return n
  end,
  displayable = displayable,
  error_message = error_message,
  -- C functions and the hook itself: the host watches a script function it calls outside a
  -- running cell (hooks around one) without any prelude code running in between
  gethook = gethook,
  hook = hook,
  hook_count = HOOK_COUNT,
  sethook = sethook,
  help_guard = help_guard,
  keys_of = keys_of,
  pretty = pretty,
  producer = producer,
  -- the host calls a script function through this C function, so no prelude code runs
  -- unprotected between the host and the script (an abort must come back as a value)
  protected_call = raw_pcall,
  proxy_object = function(t) return PROXY_OBJECTS[t] end,
  mark_records = function(t, columns) RECORD_COLUMNS[t] = columns; return t end,
  record_columns = function(t) return RECORD_COLUMNS[t] end,
  run = run,
  type = type,
}
