"""Fixtures shared by the test suite.

Every test gets its own per-user runtime directory, so discovery files
never leak between tests or into the real user's directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scrapy_webservice.server.plugins import ENV_DISABLE, ENV_NO_AUTOLOAD
from scrapy_webservice.testing import ServedService, start_shop

from .processes import PRODUCTS, Process


@pytest.fixture(autouse=True)
def runtime_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path_factory.mktemp("runtime")
    path.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    monkeypatch.delenv("SCRAPY_WS_URL", raising=False)
    monkeypatch.delenv("SCRAPY_WS_TOKEN", raising=False)
    # What is installed on this machine must not leak into the tests (crawl
    # subprocesses inherit this too); the entry-point tests turn it back on.
    monkeypatch.setenv(ENV_NO_AUTOLOAD, "1")
    monkeypatch.delenv(ENV_DISABLE, raising=False)
    return path


@pytest.fixture
def serve(webservice: Callable[..., ServedService]) -> Callable[..., ServedService]:
    """A service in this process with the built-ins and the given settings, no plugins.

    On each front in turn (``webservice_front``): the HTTP-level tests run on both.
    """
    return webservice


@pytest.fixture
def slow_shop() -> Iterator[str]:
    """The demo shop answering in 0.3 s, so that a crawl of it lasts several seconds."""
    shop, url = start_shop(PRODUCTS, delay=0.3)
    yield url
    shop.stop()


@pytest.fixture
def fast_shop() -> Iterator[str]:
    shop, url = start_shop(PRODUCTS, delay=0.0)
    yield url
    shop.stop()


@pytest.fixture
def crawls() -> Iterator[list[Process]]:
    """Processes a test starts; each is stopped after the test, whatever happened."""
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


def free_port_holder() -> Any:
    """A listening socket on 127.0.0.1, to make a port taken."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock
