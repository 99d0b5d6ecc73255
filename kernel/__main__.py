"""Launch the kernel: `python -m llmspell.kernel -f {connection_file} [--engine python]`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> None:
    """Start LLMSpellKernel under ipykernel's IPKernelApp (connection file, sockets, heartbeat)."""
    parser = argparse.ArgumentParser(prog="python -m llmspell.kernel", add_help=False)
    parser.add_argument("--engine", choices=("lua", "python"), default="lua")
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)

    from ipykernel.kernelapp import IPKernelApp

    from llmspell.kernel.kernel import LLMSpellKernel

    IPKernelApp.launch_instance(
        argv=[*rest, f"--LLMSpellKernel.engine={args.engine}"], kernel_class=LLMSpellKernel
    )


if __name__ == "__main__":
    main()
