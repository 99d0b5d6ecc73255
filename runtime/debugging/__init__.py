"""What `Debug` (runtime/api/debug_api.py) builds on: module filters, value dumps with
options, timer reports and memory figures, and the Python engine's stack trace."""
