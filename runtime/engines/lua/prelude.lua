-- The llmspell Lua prelude: the stop guarantees (interrupt-safe pcall/coroutines/load), the
-- sandbox, print/io routed to the host, the pretty printer, API wrapping, stream producers and
-- the cell runner. Loaded once per LuaRuntime, before any script; the table it returns is what
-- the Python side of the engine calls. Everything it uses later is captured here, so a script
-- that replaces a global (`ipairs = nil`) cannot make the host run its code.
local host, safe = ...

local raw_pcall, raw_xpcall, raw_error, raw_load = pcall, xpcall, error, load
local sethook, traceback, getinfo, raw_getmetatable =
  debug.sethook, debug.traceback, debug.getinfo, debug.getmetatable
local getlocal, getupvalue = debug.getlocal, debug.getupvalue -- Debug.stackTrace's locals
local co_create, co_resume, co_close, co_status =
  coroutine.create, coroutine.resume, coroutine.close, coroutine.status
local pack, unpack, concat, sort = table.pack, table.unpack, table.concat, table.sort
local select, type, tostring, rawequal, rawget, next, ipairs =
  select, type, tostring, rawequal, rawget, next, ipairs
local getmetatable, setmetatable, tointeger = getmetatable, setmetatable, math.tointeger
local sfmt, sgsub, sbyte, smatch, ssub, sfind =
  string.format, string.gsub, string.byte, string.match, string.sub, string.find
local G = _G

local check = host.check -- Python: true when the running call must stop (interrupt, timeout)
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

-- Every standard function that catches errors is wrapped so an interrupt, timeout or memory
-- error cannot be swallowed: pcall, xpcall, coroutines, coroutine.close (errors of __close
-- handlers) and load (errors of a reader function).
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
coroutine.close = function(co) return rethrow_if_aborting(co_close(co)) end
coroutine.wrap = function(f)
  local co = hooked_create(f)
  return function(...)
    local r = pack(co_resume(co, ...))
    if r[1] then return unpack(r, 2, r.n) end
    co_close(co)
    raw_error(r[2], 0)
  end
end
local function checked_load(chunk, name, mode, ...)
  local fn, err = raw_load(chunk, name, mode, ...)
  if fn == nil and must_propagate(err) then raw_error(err, 0) end
  return fn, err
end
load = function(chunk, name, mode, ...)
  if safe then mode = "t" end
  if select("#", ...) > 0 then return checked_load(chunk, name, mode, ...) end
  return checked_load(chunk, name, mode)
end

-- String patterns and the table functions whose C loops the hook cannot reach (bounded.lua).
local bounded = raw_load(host.bounded_source, "=llmspell", "t")({
  find = string.find, match = string.match, gmatch = string.gmatch, gsub = string.gsub,
  rep = string.rep, byte = sbyte, char = string.char, sub = ssub, format = sfmt,
  move = table.move, insert = table.insert, remove = table.remove, sort = sort,
  concat = concat, unpack = unpack, getinfo = getinfo, getmetatable = raw_getmetatable,
  error = raw_error,
})
for name, fn in pairs(bounded.string) do string[name] = fn end
for name, fn in pairs(bounded.table) do table[name] = fn end

-- Output and input go through the host (stream messages in the kernel, stdout in the CLI).
local write_out, write_err, read_line = host.write_out, host.write_err, host.read_line

local KEYWORDS = {}
for _, k in ipairs(host.keywords) do KEYWORDS[k] = true end

-- API function or proxy table → "State.save", "State", "Timer"
local API_NAMES = setmetatable({}, { __mode = "k" })
-- API proxy table → the Python object behind it. Weak keys: when Lua collects the proxy, the
-- entry and with it Lua's reference to the Python object go too.
local PROXY_OBJECTS = setmetatable({}, { __mode = "k" })
-- API proxy with fields (`w.value`) → the list of its field names, for completion
local FIELD_NAMES = setmetatable({}, { __mode = "k" })
local NO_DISPLAY = setmetatable({}, { __mode = "k" }) -- values a cell result does not show
-- Lists of records an API returned → their columns, so a cell showing one gets a table even
-- when a record lacks a field (a nil value).
local RECORD_COLUMNS = setmetatable({}, { __mode = "k" })
-- A global's proxy that is filled on first use (runtime/api/catalog.py) → the host's `load`,
-- which builds the namespace: (true, object, functions, members) or (false, message). Reading,
-- iterating, raw reads (rawget, next), setmetatable and the host's introspection fill it first.
local LAZY = setmetatable({}, { __mode = "k" })
local filled -- (proxy) → the proxy, filled; defined with the API proxies below

local function quote(s)
  return '"' .. sgsub(s, '[%c"\\]', function(c)
    if c == "\n" then return "\\n" elseif c == "\t" then return "\\t"
    elseif c == "\r" then return "\\r" elseif c == '"' then return '\\"'
    elseif c == "\\" then return "\\\\" end
    return sfmt("\\%03d", sbyte(c))
  end) .. '"'
end

local function raw_tostring(v)
  -- the built-in form ("table: 0x..."), without asking a __tostring or __name metamethod
  local mt = raw_getmetatable(v)
  if mt == nil then return tostring(v) end
  local kind = type(v)
  if kind == "table" then
    return sfmt("table: %p", v)
  end
  return sfmt("%s: %p", kind, v)
end

local function scalar(v, raw)
  local t = type(v)
  if t == "string" then return quote(v) end
  if t == "number" then
    if v ~= v then return "0/0" end
    if v == math.huge then return "math.huge" end
    if v == -math.huge then return "-math.huge" end
    return tostring(v)
  end
  if t == "function" and API_NAMES[v] then return "function: " .. API_NAMES[v] end
  if raw then return raw_tostring(v) end
  return tostring(v)
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "number" or ta == "string" then return a < b end
  return raw_tostring(a) < raw_tostring(b)
end

local LINE_WIDTH = 72

-- A readable Lua constructor for any value: depth/length limited, cycles marked. Tables are
-- read raw (their own fields; no __index, __pairs or __len); a table's __tostring is its text
-- unless `raw` (inspection and completion run no script code at all).
local function pretty(value, max_depth, max_items, max_string, raw)
  max_depth, max_items, max_string = max_depth or 4, max_items or 100, max_string or 10000
  local on_path = {}
  local function fmt(v, depth, indent)
    if type(v) == "string" and #v > max_string then
      return quote(ssub(v, 1, max_string)) .. " --[[ " .. (#v - max_string) .. " more bytes ]]"
    end
    if type(v) ~= "table" then return scalar(v, raw) end
    local mt = raw_getmetatable(v)
    if mt and rawget(mt, "__tostring") then
      if API_NAMES[v] or not raw then return tostring(v) end
    end
    if on_path[v] then return "<cycle>" end
    if depth > max_depth then return "{...}" end
    on_path[v] = true
    local parts, n, count = {}, 0, 0
    while rawget(v, n + 1) ~= nil do n = n + 1 end
    for i = 1, n do
      count = count + 1
      if count > max_items then break end
      parts[#parts + 1] = fmt(rawget(v, i), depth + 1, indent .. "  ")
    end
    local keys = {}
    for k in next, v do
      if not (type(k) == "number" and tointeger(k) and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    sort(keys, key_order)
    for _, k in ipairs(keys) do
      count = count + 1
      if count > max_items then break end
      local label
      if type(k) == "string" and smatch(k, "^[%a_][%w_]*$") and not KEYWORDS[k] then label = k
      else label = "[" .. scalar(k, raw) .. "]" end
      parts[#parts + 1] = label .. " = " .. fmt(rawget(v, k), depth + 1, indent .. "  ")
    end
    on_path[v] = nil
    local total = n + #keys
    if total > max_items then parts[#parts + 1] = "--[[ " .. (total - max_items) .. " more ]]" end
    if #parts == 0 then return "{}" end
    local flat = "{" .. concat(parts, ", ") .. "}"
    if #flat + #indent <= LINE_WIDTH and not sfind(flat, "\n", 1, true) then return flat end
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

local function read_one(fmt)
  fmt = fmt or "l"
  if type(fmt) == "string" then fmt = sgsub(fmt, "^%*", "") end
  local ok, line = read_line("")
  if not ok then raw_error(line, 0) end
  if line == nil then return nil end
  if fmt == "n" then return tonumber(line) end
  if fmt == "L" then return line .. "\n" end
  if type(fmt) == "number" then return ssub(line, 1, fmt) end
  if fmt == "l" or fmt == "a" then return line end
  raw_error("bad argument #1 to 'read' (invalid format)", 2)
end

local function stream(label, write)
  local methods = {
    flush = function(self) return self end,
    setvbuf = function() return true end,
    close = function() return nil, "cannot close standard file" end,
  }
  if write then
    methods.write = file_writer(write, "write")
  else
    methods.read = function(self, ...)
      local n = select("#", ...)
      if n <= 1 then return read_one((...)) end
      local out = {}
      for i = 1, n do out[i] = read_one((select(i, ...))) end
      return unpack(out, 1, n)
    end
    methods.lines = function(self, fmt) return function() return read_one(fmt) end end
  end
  local f = setmetatable({}, { __index = methods, __name = "FILE*",
    __tostring = function() return "file (" .. label .. ")" end })
  NO_DISPLAY[f] = true
  return f
end

-- The standard files are host streams: no C file handle (with its shared metatable) is left.
local stdin, stdout, stderr = stream("stdin"), stream("stdout", write_out), stream("stderr", write_err)

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
io.read = function(...) return stdin:read(...) end
io.stdin, io.stdout, io.stderr = stdin, stdout, stderr
local c_io_type = io.type
io.type = function(obj)
  if NO_DISPLAY[obj] and (obj == stdin or obj == stdout or obj == stderr) then return "file" end
  return c_io_type(obj)
end

-- A lazily filled global looks filled to the raw functions too (`rawget(State, "save")`).
G.rawget = function(...)
  if LAZY[...] ~= nil then filled((...)) end
  return rawget(...)
end
G.next = function(...)
  if LAZY[...] ~= nil then filled((...)) end
  return next(...)
end
G.setmetatable = function(...)
  if LAZY[...] ~= nil then filled((...)) end
  return setmetatable(...)
end

-- lupa's `python` module is no part of Lua: gone in both modes.
python = nil
package.loaded.python = nil

-- The safe sandbox (spec: architecture.md, Engines; docs/user-guide/09-security-model.md).
if safe then
  local raw_setmetatable, raw_getenv, raw_setlocale = setmetatable, os.getenv, os.setlocale
  os.execute, os.exit, os.remove, os.rename, os.tmpname = nil, nil, nil, nil, nil
  io.popen, io.open, io.lines, io.input, io.output, io.tmpfile, io.close = nil, nil, nil, nil, nil, nil, nil
  io.flush = function() end
  dofile, loadfile = nil, nil
  string.dump = nil
  debug = { traceback = traceback }

  -- Finalisers run with hooks off, so a looping __gc could never be stopped.
  G.setmetatable = function(t, mt)
    if LAZY[t] ~= nil then filled(t) end
    if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
      raw_error("setmetatable: __gc metamethods are not allowed in safe mode (finalisers run " ..
        "outside the time limit and the interrupt)", 2)
    end
    return raw_setmetatable(t, mt)
  end
  -- The only userdata a script could meet are host objects; their metatable is the host's.
  G.getmetatable = function(v)
    if type(v) == "userdata" then return nil end
    return getmetatable(v)
  end

  -- Only names in engines.lua.env_allowlist; never llmspell's own settings or API keys.
  os.getenv = function(name)
    if type(name) ~= "string" then
      raw_error(sfmt("bad argument #1 to 'getenv' (string expected, got %s)", type(name)), 2)
    end
    local ok, value = host.getenv(name)
    if not ok then raw_error(value, 2) end
    return value
  end
  -- The locale is the host process's: a script may read it, not change it.
  os.setlocale = function(locale, category)
    if locale ~= nil then
      raw_error("os.setlocale: safe mode can only query the locale (os.setlocale(nil)), not set it", 2)
    end
    return raw_setlocale(nil, category or "all")
  end

  -- require: text chunks from the script's directory and tools.allowed_paths only, run in the
  -- sandboxed globals; package.loaded holds the safe libraries, nothing else is settable.
  local LOADED = {
    _G = G, string = string, table = table, math = math, utf8 = utf8, coroutine = coroutine,
    os = os, io = io, debug = debug,
  }
  local config = package.config
  local PACKAGE_FIELDS = { loaded = LOADED, config = config }
  package = raw_setmetatable({}, {
    __index = function(_, key)
      if key == "path" then return host.module_path() end
      if key == "cpath" then return "" end
      return PACKAGE_FIELDS[key]
    end,
    __newindex = function(_, key)
      raw_error(sfmt("package.%s cannot be set in safe mode: require loads modules only from " ..
        "the script's directory and tools.allowed_paths", tostring(key)), 2)
    end,
    __metatable = false,
  })
  LOADED.package = package
  require = function(name)
    if type(name) ~= "string" then
      raw_error(sfmt("bad argument #1 to 'require' (string expected, got %s)", type(name)), 2)
    end
    local loaded = rawget(LOADED, name)
    if loaded ~= nil then return loaded end
    local ok, path, source = host.find_module(name)
    if not ok then raw_error(path, 2) end
    local chunk, err = checked_load(source, "@" .. path, "t", G)
    if chunk == nil then
      raw_error(sfmt("error loading module '%s' from file '%s':\n\t%s", name, path, tostring(err)), 2)
    end
    local result = chunk(name, path)
    if result ~= nil then LOADED[name] = result
    elseif rawget(LOADED, name) == nil then LOADED[name] = true end
    return rawget(LOADED, name), path
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

-- Methods of an id: a namespace's functions a script calls on an id string or on a record the
-- host marks (`id:get_status()`, `Session.get(id):get_status()`; the reference's session
-- object is its id here). Strings look them up before the string library.
local ID_METHODS = {}
local STRING_INDEX = setmetatable({}, { __index = string })
raw_getmetatable("").__index = STRING_INDEX
local RECORD_META = { __index = ID_METHODS }
local function add_id_method(name, call, qualified)
  local f = api_function(call, qualified, nil)
  ID_METHODS[name] = f
  STRING_INDEX[name] = f
end

-- Debug.stackTrace: the script's own frames (no C or prelude frames) from its caller outwards,
-- each {name, source, line, what, locals?, upvalues?}; a variable's value is kept when it is a
-- string, number or boolean, else its type ("<table>"), so the trace is plain data.
local TRACE_OPTIONS = { max_depth = "number", capture_locals = "boolean",
  capture_upvalues = "boolean", include_source = "boolean" }

local function trace_value(v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return v end
  return "<" .. t .. ">"
end

local function stack_trace(fn, options)
  options = options or {}
  if type(options) ~= "table" then
    raw_error(fn .. ": options must be a table, got " .. type(options), 3)
  end
  for key, value in next, options do
    local want = TRACE_OPTIONS[key]
    if want == nil then
      raw_error(fn .. ": unknown option " .. quote(tostring(key)) .. "; allowed: " ..
        "capture_locals, capture_upvalues, include_source, max_depth", 3)
    elseif type(value) ~= want then
      raw_error(fn .. ": " .. key .. " must be a " .. want .. ", got " .. type(value), 3)
    end
  end
  local max_depth = options.max_depth or 50
  local frames, level = {}, 1 -- prelude frames (this one, Debug.stackTrace) are skipped
  while #frames < max_depth do
    local info = getinfo(level, "nSl")
    if info == nil then break end
    if info.what ~= "C" and info.source ~= "=llmspell" then
      local frame = { name = info.name or (info.what == "main" and "main chunk") or "?",
        line = info.currentline, what = info.what }
      if options.include_source ~= false then frame.source = info.short_src end
      if options.capture_locals then
        frame.locals = {}
        for i = 1, 200 do
          local name, value = getlocal(level, i)
          if name == nil then break end
          if ssub(name, 1, 1) ~= "(" then
            frame.locals[#frame.locals + 1] = { name = name, value = trace_value(value) }
          end
        end
      end
      if options.capture_upvalues then
        frame.upvalues = {}
        local f = getinfo(level, "f").func
        for i = 1, 255 do
          local name, value = getupvalue(f, i)
          if name == nil then break end
          frame.upvalues[#frame.upvalues + 1] = { name = name, value = trace_value(value) }
        end
      end
      frames[#frames + 1] = frame
    end
    level = level + 1
  end
  return { frames = frames, depth = #frames, truncated = getinfo(level, "S") ~= nil }
end

-- JSON text of a stack trace (plain data: lists of records with scalar fields).
local function json_text(v)
  local t = type(v)
  if t == "table" then
    local parts = {}
    if v[1] ~= nil or next(v) == nil then
      for i = 1, #v do parts[i] = json_text(v[i]) end
      return "[" .. concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in next, v do keys[#keys + 1] = k end
    sort(keys)
    for i, k in ipairs(keys) do parts[i] = json_text(k) .. ":" .. json_text(v[k]) end
    return "{" .. concat(parts, ",") .. "}"
  elseif t == "string" then
    return '"' .. sgsub(v, '[%c"\\]', function(c) return sfmt("\\u%04x", sbyte(c)) end) .. '"'
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return tointeger(v) and sfmt("%d", v) or sfmt("%.17g", v)
  elseif t == "boolean" then
    return v and "true" or "false"
  end
  return "null"
end

-- Functions of a namespace that must run in Lua itself: a coroutine yield cannot cross into
-- the host, so `Streaming.yield` (the reference system's name for it) is Lua's own; the Lua
-- call stack is only Lua's to read, so `Debug.stackTrace` is too.
local co_yield, co_isyieldable = coroutine.yield, coroutine.isyieldable
local LUA_MEMBERS = {
  Debug = {
    stackTrace = function(options)
      local trace = stack_trace("Debug.stackTrace", options)
      return trace
    end,
    stackTraceJson = function(options)
      return json_text(stack_trace("Debug.stackTraceJson", options))
    end,
  },
  Streaming = {
    yield = function(...)
      if not co_isyieldable() then
        raw_error("Streaming.yield: only inside a Streaming.create producer (or another " ..
          "coroutine); it is coroutine.yield", 2)
      end
      return co_yield(...)
    end,
  },
}

-- `functions` maps a name to {call, qualified name}; `members` holds plain fields (or is nil).
-- A field the script set already (on a proxy filled late) stays the script's; a Lua member
-- replaces the host function of the same name (`Debug.stackTrace` reads Lua's own stack).
local function fill_proxy(proxy, qualified, object, functions, members)
  local scripts = {}
  for name in next, proxy do scripts[name] = true end
  local function put(name, value)
    if not scripts[name] then proxy[name] = value end
  end
  for name, pair in next, functions do put(name, api_function(pair[1], pair[2], proxy)) end
  for name, value in next, members or {} do put(name, value) end
  for name, fn in next, LUA_MEMBERS[qualified] or {} do
    put(name, fn)
    API_NAMES[fn] = qualified .. "." .. name
  end
  PROXY_OBJECTS[proxy] = object
end

local function api_proxy(label, qualified, object, functions, members)
  local proxy = {}
  fill_proxy(proxy, qualified, object, functions, members)
  API_NAMES[proxy] = qualified
  return setmetatable(proxy, { __tostring = function() return label end, __name = label })
end

filled = function(proxy)
  local load = LAZY[proxy]
  if load == nil then return proxy end
  local ok, object, functions, members = load()
  if not ok then raw_error(object, 0) end
  if LAZY[proxy] ~= nil then
    LAZY[proxy] = nil
    local mt = raw_getmetatable(proxy)
    if mt ~= nil then mt.__index, mt.__pairs = nil, nil end
    fill_proxy(proxy, API_NAMES[proxy], object, functions, members)
  end
  return proxy
end

-- A global's proxy as the script sees it before its namespace is built: the first read of a
-- field (or pairs) fills it, and from then on it is a plain API proxy.
local function lazy_proxy(label, qualified, load)
  local proxy = setmetatable({}, {
    __tostring = function() return label end,
    __name = label,
    __index = function(t, key) return filled(t)[key] end,
    __pairs = function(t) return next, filled(t), nil end,
  })
  API_NAMES[proxy] = qualified
  LAZY[proxy] = load
  return proxy
end

-- An id method of a global not built yet: its first call fills the global, which adds the
-- method itself (add_id_method) in place of this one.
local function lazy_id_method(name, proxy, qualified)
  local stub
  stub = function(...)
    filled(proxy)
    local method = ID_METHODS[name]
    if method == stub then raw_error(qualified .. ": not provided by " .. API_NAMES[proxy], 0) end
    return method(...)
  end
  API_NAMES[stub] = qualified
  ID_METHODS[name] = stub
  STRING_INDEX[name] = stub
end

-- An API object with fields (`w.value`): reading a field that is not a method asks `get(key)`,
-- assigning one asks `set(key, value)`; both return (true, result) or (false, message).
local function field_proxy(label, qualified, object, functions, get, set, fields)
  local proxy = api_proxy(label, qualified, object, functions, nil)
  FIELD_NAMES[proxy] = fields
  local mt = raw_getmetatable(proxy)
  mt.__index = function(_, key)
    local ok, res = get(key)
    if not ok then raw_error(res, 0) end
    return res
  end
  mt.__newindex = function(_, key, value)
    local ok, res = set(key, value)
    if not ok then raw_error(res, 0) end
  end
  return proxy
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

-- A field as completion and inspection see it: the table's own, else along the __index chain
-- of tables (an __index function is script code, so it is not called).
local function raw_field(t, key)
  local depth = 0
  while type(t) == "table" and depth < 8 do
    if LAZY[t] ~= nil then filled(t) end
    local v = rawget(t, key)
    if v ~= nil then return v end
    local mt = raw_getmetatable(t)
    t = type(mt) == "table" and rawget(mt, "__index") or nil
    depth = depth + 1
  end
  return nil
end

-- Keys of a value for completion: fields, plus the __index chain of its metatable (raw).
local function keys_of(v)
  if LAZY[v] ~= nil then filled(v) end
  local out, seen = {}, {}
  local depth = 0
  local fields = FIELD_NAMES[v]
  if fields then
    for _, k in ipairs(fields) do
      seen[k] = true
      out[#out + 1] = k
      out[#out + 1] = "field"
    end
  end
  while v ~= nil and depth < 8 do
    if type(v) == "table" then
      for k, item in next, v do
        if type(k) == "string" and not seen[k] then
          seen[k] = true
          out[#out + 1] = k
          out[#out + 1] = type(item)
        end
      end
    end
    local mt = raw_getmetatable(v)
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
  local mt = raw_getmetatable(e)
  if (type(e) == "table" or type(e) == "userdata") and type(mt) == "table"
    and rawget(mt, "__tostring") then return tostring(e) end -- incl. Python exceptions
  if e == nil then return "nil" end
  return "(error object is a " .. type(e) .. " value)"
end

-- Run a compiled chunk (the host has armed the hook); results come back packed, errors as a
-- record.
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
  local r = pack(raw_xpcall(fn, error_record))
  if r[1] then return true, pack(unpack(r, 2, r.n)) end
  local rec = r[2]
  if type(rec) ~= "table" then rec = { kind = (rec == MEMORY_ERROR) and "memory" or "error", msg = tostring(rec) } end
  return false, rec
end

-- "@name" like a file: Lua shortens a long name from the front ("...dir/job.lua:2:"), so the
-- file name and line stay in error messages. The text reaches the parser in pieces, so an
-- interrupt or the timeout stops even the compilation of a huge cell (between two pieces).
local COMPILE_PIECE = 1 << 20
local function compile(code, name)
  local pos, size = 1, #code
  local function reader()
    if check() then raw_error(ABORT, 0) end
    if pos > size then return nil end
    local piece = ssub(code, pos, pos + COMPILE_PIECE - 1)
    pos = pos + COMPILE_PIECE
    return piece
  end
  return raw_load(reader, "@" .. name, "t")
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
  add_id_method = add_id_method,
  api_proxy = api_proxy,
  lazy_proxy = lazy_proxy,
  lazy_id_method = lazy_id_method,
  field_proxy = field_proxy,
  with_id_methods = function(t) return setmetatable(t, RECORD_META) end,
  -- the host's guard: the count hook on the main thread while any call into Lua runs
  arm = function() sethook(hook, "", HOOK_COUNT) end,
  disarm = function() sethook() end,
  collect_garbage = function() collectgarbage() end,
  compile = compile,
  count_keys = function(t)
    if LAZY[t] ~= nil then filled(t) end
    local n = 0
    for _ in next, t do n = n + 1 end
    return n
  end,
  displayable = displayable,
  error_message = error_message,
  help_guard = help_guard,
  keys_of = keys_of,
  pretty = pretty,
  producer = producer,
  -- the host calls a script function through this C function, so no prelude code runs
  -- unprotected between the host and the script (an abort must come back as a value)
  protected_call = raw_pcall,
  proxy_object = function(t)
    if LAZY[t] ~= nil then filled(t) end
    return PROXY_OBJECTS[t]
  end,
  raw_field = raw_field,
  mark_records = function(t, columns) RECORD_COLUMNS[t] = columns; return t end,
  record_columns = function(t) return RECORD_COLUMNS[t] end,
  run = run,
  type = type,
}
