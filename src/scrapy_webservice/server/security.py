"""Who may do what: tokens, Host and Origin checks, and the discovery file.

Kept apart from the HTTP plumbing so that the rules can be read (and
reviewed) in one place. Nothing here touches the reactor.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import hmac
import ipaddress
import json
import os
import re
import secrets
import stat
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import platformdirs

__all__ = [
    "Access",
    "TokenChecker",
    "default_discovery_dir",
    "generate_token",
    "host_allowed",
    "host_field_problem",
    "parse_host",
    "read_discovery_files",
    "remove_discovery_file",
    "remove_stale_discovery_files",
    "write_discovery_file",
]

DISCOVERY_APP_NAME = "scrapy-webservice"


class Access(enum.IntEnum):
    """What a request may do, from its token."""

    NONE = 0
    READ = 1  #: read resources and call read-only methods
    CONTROL = 2  #: everything


def generate_token() -> str:
    """A fresh random token: 256 bits, URL-safe, never starting with ``-``.

    A leading ``-`` would make ``scrapy-ws --token TOKEN`` read the token
    as an option.
    """
    while True:
        token = secrets.token_urlsafe(32)
        if not token.startswith("-"):
            return token


class TokenChecker:
    """Maps an ``Authorization`` header to an :class:`Access` level.

    Both tokens are always compared, in constant time, so that the answer
    takes as long for a wrong token as for either right one.
    """

    def __init__(self, token: str | None, readonly_token: str | None, enabled: bool = True):
        self.enabled = enabled
        self._token = (token or "").encode()
        self._readonly_token = (readonly_token or "").encode()

    def access(self, authorization: bytes | None) -> Access:
        if not self.enabled:
            return Access.CONTROL
        presented = _bearer(authorization)
        if presented is None:
            return Access.NONE
        full = bool(self._token) and hmac.compare_digest(presented, self._token)
        read = bool(self._readonly_token) and hmac.compare_digest(presented, self._readonly_token)
        if full:
            return Access.CONTROL
        if read:
            return Access.READ
        return Access.NONE


def _bearer(authorization: bytes | None) -> bytes | None:
    if not authorization:
        return None
    if authorization.startswith(b"Bearer "):  # how every client writes it
        return authorization[7:].strip() or None
    scheme, _, value = authorization.strip().partition(b" ")
    if scheme.lower() != b"bearer" or not value.strip():
        return None
    return value.strip()


def split_host(host_header: str) -> str:
    """The host name of a ``WEBSERVICE_ALLOWED_HOSTS`` entry, without port or brackets.

    Lenient, for what a user writes in the settings (``::1`` without
    brackets included); requests' ``Host`` values go through :func:`parse_host`.
    """
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


# RFC 3986 3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ),
# which IPv4 addresses also match; an empty one is refused (RFC 9110 4.2.1).
_REG_NAME = re.compile(rb"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
# RFC 3986 3.2.2: IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
_IP_FUTURE = re.compile(rb"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+")
_PORT = re.compile(rb"[0-9]{1,5}")


def parse_host(value: bytes) -> tuple[str, int | None]:
    """The host name and port of one ``Host`` field value; ``ValueError`` if malformed.

    The syntax is RFC 9110 7.2's ``uri-host [ ":" port ]`` with RFC 3986's
    host: a bracketed IPv6 address (or IPvFuture), or a reg-name (which
    covers IPv4 addresses). Stricter than the grammar where HTTP is: an
    empty host is refused (RFC 9110 4.2.1), and so is an empty port or one
    over 65535. The name comes back lower-cased, without brackets or a
    trailing dot, ready to compare with the allowed hosts.
    """
    if value.startswith(b"["):
        end = value.find(b"]")
        if end < 0:
            raise ValueError("an IPv6 address lacks its closing ']'")
        literal, rest = value[1:end], value[end + 1 :]
        if _IP_FUTURE.fullmatch(literal):
            name = literal.decode("ascii").lower()
        elif b"%" in literal:
            # RFC 6874's zone identifiers are for links, not for HTTP hosts.
            raise ValueError("an IPv6 zone identifier is not allowed")
        else:
            try:
                name = str(ipaddress.IPv6Address(literal.decode("ascii")))
            except (UnicodeDecodeError, ValueError):
                raise ValueError("not an IPv6 address between '[' and ']'") from None
        if rest and not rest.startswith(b":"):
            raise ValueError("only ':' and a port may follow ']'")
    else:
        literal, colon, port_part = value.partition(b":")
        if not literal:
            raise ValueError("the host is empty")
        if not _REG_NAME.fullmatch(literal):
            raise ValueError("the host holds a character that no host name has")
        name = literal.decode("ascii").lower()
        rest = colon + port_part
    port = None
    if rest:
        digits = rest[1:]
        if not _PORT.fullmatch(digits) or int(digits) > 65535:
            raise ValueError("the port must be a number from 0 to 65535")
        port = int(digits)
    return name.rstrip("."), port


def host_field_problem(values: Sequence[bytes] | None) -> str | None:
    """Why a request's ``Host`` field lines are not valid HTTP, or ``None`` if they are.

    RFC 9112 3.2: a server answers 400 to a request with no ``Host``, with
    more than one, or with one whose value is not valid.
    """
    if not values:
        return "Bad request: no Host header (RFC 9112 3.2)"
    if len(values) > 1:
        return "Bad request: more than one Host header (RFC 9112 3.2)"
    try:
        parse_host(values[0])
    except ValueError as exc:
        return f"Bad request: malformed Host header: {exc} (RFC 9110 7.2)"
    return None


def host_allowed(host_header: bytes | None, allowed: Iterable[str]) -> bool:
    """Whether a request's ``Host`` names this service (defeats DNS rebinding).

    A page on ``http://evil.example`` that rebinds its name to 127.0.0.1 still
    sends ``Host: evil.example``, which is not in the list. A malformed
    ``Host`` is never allowed, not even by ``*``.
    """
    if not host_header:
        return False
    try:
        name, _ = parse_host(host_header)
    except ValueError:
        return False
    allowed_names = _host_names(tuple(allowed))
    return "*" in allowed_names or name in allowed_names


def host_is_address(host_header: bytes, address: str) -> bool:
    """Whether ``Host`` names ``address``, the one a connection arrived on.

    A service bound to every interface is reached by each of the machine's
    addresses (a pod's IP, say), which no list made before it started can
    name; the address a connection arrived on is this machine's own, so a
    rebinding page cannot make a browser send it as ``Host`` for its name.
    """
    try:
        name, _ = parse_host(host_header)
    except ValueError:
        return False
    return _canonical(name) == _canonical(_unmapped(address))


def _unmapped(address: str) -> str:
    """``::ffff:10.0.0.5`` (an IPv4 client of a dual-stack socket) as ``10.0.0.5``."""
    try:
        mapped = ipaddress.IPv6Address(address).ipv4_mapped
    except ValueError:
        return address
    return str(mapped) if mapped is not None else address


@functools.lru_cache(maxsize=64)
def _host_names(allowed: tuple[str, ...]) -> frozenset[str]:
    """The allowed names, normalised once (this runs on every request)."""
    return frozenset(_canonical(split_host(a)) if a != "*" else "*" for a in allowed)


def _canonical(name: str) -> str:
    """An IPv6 address in the form :func:`parse_host` gives; other names as they are."""
    try:
        return str(ipaddress.IPv6Address(name))
    except ValueError:
        return name


def origin_allowed(
    origin: bytes,
    host_header: bytes | None,
    cors_origins: Iterable[str],
    scheme: str = "http",
) -> bool:
    """Whether a browser's ``Origin`` may talk to us: same origin, or configured.

    Same origin means the scheme the service speaks (``https`` with TLS)
    and the ``Host`` the browser sent.
    """
    try:
        origin_text = origin.decode("ascii").rstrip("/").lower()
    except UnicodeDecodeError:
        return False
    if host_header:
        with contextlib.suppress(UnicodeDecodeError):
            if origin_text == f"{scheme}://" + host_header.decode("ascii").lower():
                return True
    return any(origin_text == o.rstrip("/").lower() or o == "*" for o in cors_origins)


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
