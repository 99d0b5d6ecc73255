"""The script engines, `lua` (package) and `python`, and the introspection both share."""
