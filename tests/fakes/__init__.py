"""Stand-ins for outside services, shared by the tests and the benchmarks (which put `tests/`
on `sys.path`). Nothing here imports pytest."""
