"""Kernelspec resources (kernel.json + logos) for "llmspell" (Lua) and "llmspell-python".

`llmspell.kernel.install` copies these and points argv[0] at the installing interpreter.
"""
