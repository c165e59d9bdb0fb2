"""Tokens, Host and Origin rules, discovery files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from scrapy_webservice.rpc.discovery import (
    read_discovery_files,
    remove_discovery_file,
    write_discovery_file,
)
from scrapy_webservice.rpc.markers import Access
from scrapy_webservice.server.security import (
    TokenChecker,
    generate_token,
    host_allowed,
    origin_allowed,
)


def test_tokens():
    checker = TokenChecker("full", "read")
    assert checker.access(b"Bearer full") is Access.CONTROL
    assert checker.access(b"bearer  full ") is Access.CONTROL
    assert checker.access(b"Bearer read") is Access.READ
    for header in (None, b"", b"Bearer", b"Bearer wrong", b"Basic full", b"full"):
        assert checker.access(header) is Access.NONE
    assert TokenChecker("full", None).access(b"Bearer ") is Access.NONE
    assert TokenChecker(None, None, enabled=False).access(None) is Access.CONTROL


def test_tokens_are_compared_in_constant_time(monkeypatch):
    """Every comparison goes through ``hmac.compare_digest``, for both tokens.

    A timing test would be noise on a shared machine; what makes the
    comparison constant-time is this function, so the test checks it is
    the only way a presented token is compared.
    """
    import hmac

    from scrapy_webservice.server import security

    calls: list[tuple[bytes | str, bytes | str]] = []
    compare = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    checker = TokenChecker("full-token", "read-token")
    for header, expected in [
        (b"Bearer full-token", Access.CONTROL),
        (b"Bearer read-token", Access.READ),
        (b"Bearer f", Access.NONE),
        (b"Bearer full-tokeX", Access.NONE),
    ]:
        calls.clear()
        assert checker.access(header) is expected
        # Both tokens are compared every time, so which one matched takes no less time.
        assert len(calls) == 2, header


def test_generated_tokens_are_long_and_unique():
    tokens = {generate_token() for _ in range(500)}
    assert len(tokens) == 500
    # About one in 64 would start with "-", which a command line takes for an option.
    assert not [t for t in tokens if t.startswith("-")]
    assert all(len(t) >= 40 for t in tokens)


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        (b"127.0.0.1:6080", True),
        (b"localhost:6080", True),
        (b"LOCALHOST", True),
        (b"[::1]:6080", True),
        (b"evil.example:6080", False),
        (b"127.0.0.1.evil.example", False),
        (None, False),
        (b"\xff", False),
    ],
)
def test_host_allowlist(host, ok):
    assert host_allowed(host, ["127.0.0.1", "localhost", "::1"]) is ok


def test_origin_rules():
    assert origin_allowed(b"http://127.0.0.1:6080", b"127.0.0.1:6080", [])
    assert not origin_allowed(b"http://evil.example", b"127.0.0.1:6080", [])
    assert origin_allowed(b"https://ui.example", b"127.0.0.1:6080", ["https://ui.example"])
    # With TLS, the service's own pages send an https origin.
    assert origin_allowed(b"https://127.0.0.1:6080", b"127.0.0.1:6080", [], scheme="https")
    assert not origin_allowed(b"http://127.0.0.1:6080", b"127.0.0.1:6080", [], scheme="https")


def test_discovery_dir_without_xdg_runtime_dir(monkeypatch, tmp_path):
    from scrapy_webservice.rpc.discovery import default_discovery_dir

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert default_discovery_dir() == tmp_path / "scrapy-webservice"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    session = Path(f"/run/user/{os.getuid()}")
    expected = (
        session if session.is_dir() else Path(tempfile.gettempdir(), f"runtime-{os.getuid()}")
    )
    assert default_discovery_dir() == expected / "scrapy-webservice"


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="platformdirs decides there")
def test_runtime_dir_rule_is_ours_whatever_platformdirs_says(monkeypatch, tmp_path):
    """platformdirs 4.0 and 4.7+ fall back differently; our rule on Linux and BSD does not."""
    import platformdirs

    from scrapy_webservice.rpc import discovery
    from scrapy_webservice.rpc.discovery import platform_runtime_dir, unix_runtime_dir

    uid = os.getuid()
    temp = Path(tempfile.gettempdir(), f"runtime-{uid}")
    session = tmp_path / "run" / "user" / str(uid)
    monkeypatch.setattr(discovery, "platform_runtime_dir", lambda platform, uid: str(session))

    private = tmp_path / "xdg"
    private.mkdir(mode=0o700)
    assert unix_runtime_dir({"XDG_RUNTIME_DIR": str(private)}, "linux", uid) == private
    # Not there yet: it is made private when the first discovery file is written.
    missing = tmp_path / "later"
    assert unix_runtime_dir({"XDG_RUNTIME_DIR": str(missing)}, "linux", uid) == missing
    # Unset, blank, relative, open to others, a link, another user's: the session's
    # directory when there is one of ours, else runtime-<uid> in the temporary directory.
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    link = tmp_path / "link"
    link.symlink_to(private)
    unusable = [{}, {"XDG_RUNTIME_DIR": " "}, {"XDG_RUNTIME_DIR": "run"}]
    unusable += [{"XDG_RUNTIME_DIR": str(shared)}, {"XDG_RUNTIME_DIR": str(link)}]
    for environ in unusable:
        assert unix_runtime_dir(environ, "linux", uid) == temp, environ
    other = Path(tempfile.gettempdir(), f"runtime-{uid + 1}")
    assert unix_runtime_dir({"XDG_RUNTIME_DIR": str(private)}, "linux", uid + 1) == other
    session.mkdir(mode=0o700, parents=True)
    for environ in unusable:
        assert unix_runtime_dir(environ, "freebsd14", uid) == session, environ
    session.chmod(0o755)
    assert unix_runtime_dir({}, "linux", uid) == temp

    # platformdirs is not asked on Linux and BSD.
    def not_asked(*args, **kwargs):
        raise AssertionError("platformdirs.user_runtime_dir was called")

    monkeypatch.setattr(platformdirs, "user_runtime_dir", not_asked)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(private))
    assert discovery.default_discovery_dir() == private / "scrapy-webservice"

    assert platform_runtime_dir("linux", 7) == "/run/user/7"
    assert platform_runtime_dir("freebsd14", 7) == "/var/run/user/7"
    assert platform_runtime_dir("netbsd10", 7) == "/var/run/user/7"
    assert platform_runtime_dir("openbsd7", 7) == "/tmp/run/user/7"


def test_discovery_file_is_private_and_removed(tmp_path):
    directory = tmp_path / "ws"
    path = write_discovery_file(directory, {"url": "http://127.0.0.1:1/", "token": "t"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    [info] = read_discovery_files(directory)
    assert info["url"] == "http://127.0.0.1:1/"
    assert info["token"] == "t"
    assert info["pid"] == os.getpid()
    remove_discovery_file(path)
    assert read_discovery_files(directory) == []


def test_stale_discovery_files_are_ignored(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp_path / "1.json").write_text(
        json.dumps({"url": "http://127.0.0.1:2/", "token": "x", "pid": int(dead.stdout)})
    )
    (tmp_path / "2.json").write_text("not json")
    assert read_discovery_files(tmp_path) == []
    # the stale file, token inside, is removed; what cannot be read is left alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2.json"]


def test_a_starting_service_removes_stale_discovery_files(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    directory = tmp_path / "ws"
    directory.mkdir(mode=0o700)
    stale = directory / f"{int(dead.stdout)}.json"
    stale.write_text(
        json.dumps({"url": "http://127.0.0.1:2/", "token": "x", "pid": int(dead.stdout)})
    )
    path = write_discovery_file(directory, {"url": "http://127.0.0.1:1/", "token": "t"})
    assert list(directory.iterdir()) == [path]


def test_discovery_directory_open_to_others_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(PermissionError, match="open to other users"):
        write_discovery_file(shared, {"url": "http://127.0.0.1:1/", "token": "t"})
    assert list(shared.iterdir()) == []


def test_discovery_directory_that_is_a_link_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(PermissionError, match="not a directory owned"):
        write_discovery_file(link, {"url": "http://127.0.0.1:1/", "token": "t"})
