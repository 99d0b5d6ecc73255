"""Install, list and remove the llmspell kernelspecs (`llmspell kernel install|list|uninstall`).

The packaged specs live in `llmspell.kernelspec`; installing copies one and points its argv at
the interpreter doing the install, so the kernel runs in the environment llmspell is installed in.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

# The packaged kernelspecs; each is installed under its own name.
SPECS = ("llmspell", "llmspell-python")
KERNEL_MODULE = "llmspell.kernel"


def chosen_specs(name: str | None) -> tuple[str, ...]:
    if name is None:
        return SPECS
    if name not in SPECS:
        raise ValueError(f"unknown kernelspec {name!r}; choose {' or '.join(SPECS)}")
    return (name,)


def _location_count(user: bool, sys_prefix: bool, prefix: str | None) -> None:
    if sum([user, sys_prefix, prefix is not None]) > 1:
        raise ValueError("choose at most one of user, sys_prefix and prefix")


def kernels_dir(user: bool = False, sys_prefix: bool = False, prefix: str | None = None) -> Path:
    """Where Jupyter keeps kernelspecs for `--user`, `--sys-prefix` or `--prefix P`."""
    from jupyter_core.paths import jupyter_data_dir

    _location_count(user, sys_prefix, prefix)
    if user:
        return Path(jupyter_data_dir()) / "kernels"
    return Path(sys.prefix if sys_prefix else str(prefix)) / "share" / "jupyter" / "kernels"


def install(
    user: bool = False,
    sys_prefix: bool = False,
    prefix: str | None = None,
    name: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Install the Lua and Python kernelspecs (or only `name`, one of SPECS); return the
    directories written.

    Where: `user` (the per-user Jupyter dir), `sys_prefix` (this environment), `prefix` (any
    prefix, e.g. a venv), or none of them (the system-wide Jupyter dir, as `jupyter kernelspec`).
    `env` goes into the kernelspec's `env` (e.g. `{"LLMSPELL_PROFILE": "memory"}`).
    """
    _location_count(user, sys_prefix, prefix)
    specs = chosen_specs(name)
    if sys_prefix:
        prefix = sys.prefix
    manager = KernelSpecManager()
    installed = []
    for spec in specs:
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / spec
            _write_spec(spec, source, env)
            installed.append(
                manager.install_kernel_spec(str(source), kernel_name=spec, user=user, prefix=prefix)
            )
    return installed


def list_installed(manager: KernelSpecManager | None = None) -> dict[str, str]:
    """Installed llmspell kernelspecs (any name) found on the Jupyter path: name -> directory."""
    manager = manager or KernelSpecManager()
    found = {}
    for spec_name, spec_dir in sorted(manager.find_kernel_specs().items()):
        if _is_llmspell_spec(Path(spec_dir)):
            found[spec_name] = spec_dir
    return found


def uninstall(
    name: str | None = None,
    user: bool = False,
    sys_prefix: bool = False,
    prefix: str | None = None,
    manager: KernelSpecManager | None = None,
) -> list[str]:
    """Remove the llmspell kernelspecs (or only `name`) from one location: `user`,
    `sys_prefix` or `prefix` as for install; with none of them, the copy Jupyter would use
    (first match on its path). Returns the directories removed (empty when none was there).
    """
    specs = chosen_specs(name)
    if manager is None:
        if user or sys_prefix or prefix is not None:
            where = kernels_dir(user, sys_prefix, prefix)
            manager = KernelSpecManager(kernel_dirs=[str(where)])
        else:
            manager = KernelSpecManager()
    removed = []
    for spec in specs:
        try:
            spec_dir = manager.get_kernel_spec(spec).resource_dir
        except NoSuchKernel:
            continue
        if not _is_llmspell_spec(Path(spec_dir)):
            continue
        removed.append(manager.remove_kernel_spec(spec))
    return removed


def installed_copies(names: tuple[str, ...] = SPECS) -> list[tuple[str, str]]:
    """Every installed copy of the `names` kernelspecs as (name, directory), in the order
    Jupyter searches (the first copy of a name is the one it starts)."""
    copies = []
    for kernels in KernelSpecManager().kernel_dirs:
        for name in names:
            spec_dir = Path(kernels) / name
            if spec_dir.is_dir() and _is_llmspell_spec(spec_dir):
                copies.append((name, str(spec_dir)))
    return copies


def location_option(spec_dir: str) -> str:
    """The `llmspell kernel uninstall` option that names where `spec_dir` is installed."""
    kernels = Path(spec_dir).resolve().parent
    if kernels == kernels_dir(user=True).resolve():
        return "--user"
    if kernels == kernels_dir(sys_prefix=True).resolve():
        return "--sys-prefix"
    if kernels.parts[-3:] == ("share", "jupyter", "kernels"):
        return f"--prefix {kernels.parents[2]}"
    return f"(remove {kernels} yourself; it is not a location llmspell installs to)"


def _write_spec(resource: str, target: Path, env: Mapping[str, str] | None) -> None:
    """Copy a packaged spec into `target` with argv[0] set to this interpreter."""
    target.mkdir(parents=True)
    packaged = resources.files("llmspell.kernelspec") / resource
    spec = json.loads((packaged / "kernel.json").read_text(encoding="utf-8"))
    spec["argv"][0] = sys.executable
    if env:
        spec["env"] = dict(env)
    (target / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    for size in (32, 64):
        logo = f"logo-{size}x{size}.png"
        with resources.as_file(packaged / logo) as path:
            shutil.copyfile(path, target / logo)


def _is_llmspell_spec(spec_dir: Path) -> bool:
    """True when the kernel.json in `spec_dir` launches llmspell's kernel."""
    try:
        spec = json.loads((spec_dir / "kernel.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    argv = spec.get("argv", [])
    return isinstance(argv, list) and KERNEL_MODULE in argv
