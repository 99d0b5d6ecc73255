"""The llmspell Jupyter kernel: `kernel.LLMSpellKernel` (run by `python -m llmspell.kernel`),
`history` (SQLite cell history) and `install` (kernelspec install/list/uninstall).

The kernel class (and with it ipykernel) is imported only by the launcher, `__main__`.
"""

from llmspell.kernel.install import install, list_installed, uninstall

__all__ = ["install", "list_installed", "uninstall"]
