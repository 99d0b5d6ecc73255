"""The Python engine: cells run in one namespace holding the API globals (`engine`), stopped
by the interrupt and the time limit (`stopping`), seen by help and completion (`values`),
shown with rich reprs (`display`), and `import` lines completed from module names
(`modules`)."""

from llmspell.runtime.engines.python.engine import PythonEngine

__all__ = ["PythonEngine"]
