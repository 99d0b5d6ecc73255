"""The Lua engine (`lupa.lua54`): `LuaEngine` is the facade; `conversion` (Lua <-> Python values),
`binding` (the API as Lua values), `cells` (compiling cells), `introspection` (help, inspection,
completion) and `prelude.lua` (the Lua side: sandbox, hooks, printing) are its parts."""

from llmspell.runtime.engines.lua.engine import LuaEngine

__all__ = ["LuaEngine"]
