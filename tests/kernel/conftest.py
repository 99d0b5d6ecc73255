"""Fixtures for kernel tests: kernelspecs installed into a temp prefix, and kernels started in
an isolated environment (memory storage profile, private XDG/IPython dirs and history file).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from llmspell.kernel.install import install

KernelPair = tuple[KernelManager, BlockingKernelClient]
StartKernel = Callable[..., AbstractContextManager[KernelPair]]


@pytest.fixture(scope="session")
def kernel_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prefix with both llmspell kernelspecs installed, as `--prefix` would do."""
    prefix = tmp_path_factory.mktemp("jupyter-prefix")
    install(prefix=str(prefix))
    return prefix


def kernel_env(home: Path, prefix: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a test kernel: nothing of the developer's llmspell config leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    env.update(
        {
            "LLMSPELL_PROFILE": "memory",
            "JUPYTER_PATH": str(prefix / "share" / "jupyter"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "IPYTHONDIR": str(home / "ipython"),
        }
    )
    env.update(extra or {})
    return env


# after the probe's kernel_info reply, before the welcome test subscribes (see below)
WELCOME_SETTLE_S = 1.0


@pytest.fixture(scope="session")
def start_kernel(kernel_prefix: Path) -> StartKernel:
    """Context manager factory: `with start_kernel(home, "llmspell") as (km, kc): ...`."""

    @contextmanager
    def start(
        home: Path,
        kernel_name: str = "llmspell",
        extra_env: dict[str, str] | None = None,
        channels: bool = True,
    ) -> Iterator[KernelPair]:
        home.mkdir(parents=True, exist_ok=True)
        specs = KernelSpecManager(
            kernel_dirs=[str(kernel_prefix / "share" / "jupyter" / "kernels")]
        )
        km = KernelManager(kernel_name=kernel_name, kernel_spec_manager=specs)
        km.start_kernel(env=kernel_env(home, kernel_prefix, extra_env), cwd=str(home))
        kc: Any = km.client()
        try:
            if channels:
                kc.start_channels()
                kc.wait_for_ready(timeout=60)
            else:
                # IopubWelcomeTests subscribe themselves; a throwaway client still checks the
                # kernel came up, so a broken kernel fails fast instead of hanging the test. It
                # uses the shell channel only: an IOPub subscription of its own would make the
                # test's the second one, which the kernel's XPUB socket does not report (no
                # welcome) unless the first one's unsubscription was processed before it.
                probe: Any = km.client()
                probe.start_channels(iopub=False, stdin=False, hb=False, control=False)
                probe.kernel_info(reply=True, timeout=60)
                probe.stop_channels()
                # The kernel publishes the request's closing `status: idle` just after the
                # reply; a subscription that lands before it would see that status ahead of
                # its welcome. Nobody is subscribed yet, so waiting lets it go nowhere (failed
                # once in CI on a busy machine).
                time.sleep(WELCOME_SETTLE_S)
            yield km, kc
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    return start


@pytest.fixture(scope="class")
def class_kernel(
    request: pytest.FixtureRequest,
    start_kernel: StartKernel,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """One kernel per jupyter_kernel_test class: sets `cls.km` / `cls.kc`.

    IopubWelcomeTests classes get a client without channels (the test starts them itself).
    """
    cls = request.cls
    welcome = getattr(cls, "support_iopub_welcome", False)
    home = tmp_path_factory.mktemp(cls.__name__)
    with start_kernel(home, cls.kernel_name, channels=not welcome) as (km, kc):
        cls.km, cls.kc = km, kc
        yield
