"""The discovery file: how ``scrapy-ws`` finds a local service, and its token.

Both ends read these rules, so they live in the bottom layer: the service
writes a file (mode 0600, in a directory only its user can enter) when it
listens and removes it when it stops; the client reads the live ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs

__all__ = [
    "default_discovery_dir",
    "read_discovery_files",
    "remove_discovery_file",
    "remove_stale_discovery_files",
    "write_discovery_file",
]

DISCOVERY_APP_NAME = "scrapy-webservice"


def default_discovery_dir() -> Path:
    """Where discovery files live: the per-user runtime directory.

    On Linux and the BSDs the rule is ours, the same whatever platformdirs
    is installed (its fallbacks changed in 4.7): ``XDG_RUNTIME_DIR`` when it
    is an absolute path that is private to this user (or does not exist
    yet); else the platform's per-user runtime directory (``/run/user/<uid>``;
    ``/var/run/user/<uid>`` on FreeBSD and NetBSD, ``/tmp/run/user/<uid>`` on
    OpenBSD) when it is private to this user, so that a crawl and a
    ``scrapy-ws`` started from different environments (cron, an MCP client's
    trimmed environment) find each other; else ``runtime-<uid>`` in the
    temporary directory. That last one is guessable, which is fine here: the
    discovery file is only written to a directory that is ours and 0700. On
    macOS and Windows, platformdirs decides.
    """
    if sys.platform in ("darwin", "win32") or not hasattr(os, "getuid"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Path(platformdirs.user_runtime_dir(DISCOVERY_APP_NAME))
    return unix_runtime_dir(os.environ, sys.platform, os.getuid()) / DISCOVERY_APP_NAME


def unix_runtime_dir(environ: Mapping[str, str], platform: str, uid: int) -> Path:
    """The per-user runtime directory on Linux and the BSDs (see ``default_discovery_dir``)."""
    xdg = environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(xdg) and _private_or_missing(Path(xdg), uid):
        return Path(xdg)
    session = Path(platform_runtime_dir(platform, uid))
    if session.exists() and _private_or_missing(session, uid):
        return session
    return Path(tempfile.gettempdir()) / f"runtime-{uid}"


def platform_runtime_dir(platform: str, uid: int) -> str:
    """The runtime directory the login session makes for the user ``uid``."""
    if platform.startswith("openbsd"):
        return f"/tmp/run/user/{uid}"  # noqa: S108 (OpenBSD's own place for it)
    if platform.startswith(("freebsd", "netbsd")):
        return f"/var/run/user/{uid}"
    return f"/run/user/{uid}"


def _private_or_missing(directory: Path, uid: int) -> bool:
    """A directory (not a link) of ``uid`` closed to others, or nothing there yet."""
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == uid
        and not stat.S_IMODE(info.st_mode) & 0o077
    )


def write_discovery_file(directory: Path, info: dict[str, Any]) -> Path:
    """Write ``info`` (URL and token) where only this user can read it.

    The directory is made 0700 and the file 0600 from the start (never
    world-readable, not even for an instant), so that a local ``scrapy-ws``
    finds the service without anyone else learning the token.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_private_directory(directory)
    remove_stale_discovery_files(directory)
    path = directory / f"{os.getpid()}.json"
    # A fresh temporary file (O_EXCL): never one that someone else made first.
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({**info, "pid": os.getpid(), "started": time.time()}, fh)
        os.replace(tmp, path)
    except BaseException:
        remove_discovery_file(Path(tmp))
        raise
    return path


def _check_private_directory(directory: Path) -> None:
    """Refuse a directory that is a link, not ours, or open to others.

    A guessable fallback such as ``/tmp/runtime-<uid>`` may have been made
    in advance by another user; the token must not be written there.
    """
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{directory} is not a directory owned by this user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise PermissionError(f"{directory} is open to other users (mode must be 0700)")


def remove_discovery_file(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_discovery_files(directory: Path) -> list[dict[str, Any]]:
    """The live services described in ``directory``, newest first.

    Files left behind by a process that died without cleaning up (SIGKILL,
    a crash) are removed, so a stale file, token inside, never outlives its
    process for long and never points ``scrapy-ws`` at the wrong port.
    """
    found: list[dict[str, Any]] = []
    if not directory.is_dir():
        return found
    for path in directory.glob("*.json"):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(info, dict) or not isinstance(info.get("url"), str):
            continue
        pid = info.get("pid")
        if isinstance(pid, int) and not _pid_alive(pid):
            _remove_if_ours(path)
            continue
        info["path"] = str(path)
        found.append(info)
    found.sort(key=lambda i: i.get("started", 0), reverse=True)
    return found


def remove_stale_discovery_files(directory: Path) -> None:
    """Remove the files in ``directory`` whose process is gone (what a new service does)."""
    read_discovery_files(directory)


def _remove_if_ours(path: Path) -> None:
    """Remove a stale file, but only one of this user (never follow a link)."""
    with contextlib.suppress(OSError):
        info = os.lstat(path)
        if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid():
            path.unlink()
