"""The llmspell Jupyter kernel: `kernel.LLMSpellKernel` (run by `python -m llmspell.kernel`),
`history` (SQLite cell history) and `install` (kernelspec install/list/uninstall).

Importing this package stays cheap; the kernel class is imported only by the launcher.
"""

from llmspell.kernel.install import install, list_installed, uninstall

__all__ = ["install", "list_installed", "uninstall"]
