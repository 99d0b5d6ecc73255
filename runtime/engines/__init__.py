"""The script engines, `lua` (package) and `python`, and the introspection both share."""

import sys
from typing import Any

# Jupyter's language_info and the engine's name in the banner, per engine. Here rather than in
# the engine modules so the kernel can answer kernel_info before an engine is imported.
LANGUAGE_INFO: dict[str, dict[str, Any]] = {
    "lua": {
        "name": "lua",
        "version": "5.4",
        "mimetype": "text/x-lua",
        "file_extension": ".lua",
        "codemirror_mode": "lua",
        "pygments_lexer": "lua",
    },
    "python": {
        "name": "python",
        "version": ".".join(map(str, sys.version_info[:3])),
        "mimetype": "text/x-python",
        "file_extension": ".py",
        "codemirror_mode": {"name": "ipython", "version": 3},
        "pygments_lexer": "ipython3",
        "nbconvert_exporter": "python",
    },
}
IMPLEMENTATION = {"lua": "Lua 5.4", "python": "Python"}
