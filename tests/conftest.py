"""Fixtures shared by the test suite.

Every test gets its own per-user runtime directory, so discovery files
never leak between tests or into the real user's directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler
from twisted.internet import threads

from scrapy_webservice.plugins import ENV_DISABLE, ENV_NO_AUTOLOAD
from scrapy_webservice.service import Service
from scrapy_webservice.settings import WebServiceConfig

from .helpers import Reply, http, rpc


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


@dataclass
class Served:
    """A service listening on 127.0.0.1 in this process, with a ready client."""

    service: Service
    url: str
    token: str | None

    async def get(self, path: str = "", **kwargs: Any) -> Reply:
        kwargs.setdefault("token", self.token)
        return await threads.deferToThread(http, self.url + path, **kwargs)

    async def request(self, path: str, method: str, **kwargs: Any) -> Reply:
        kwargs.setdefault("token", self.token)
        return await threads.deferToThread(http, self.url + path, method, **kwargs)

    async def rpc(self, path: str, method: str, params: Any = None, **kwargs: Any) -> Reply:
        kwargs.setdefault("token", self.token)
        return await threads.deferToThread(rpc, self.url + path, method, params, **kwargs)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start a service with the given settings (port 0, built-ins unless replaced)."""
    started: list[Service] = []

    def start(crawler: Any = None, **settings: Any) -> Served:
        settings.setdefault("WEBSERVICE_PORT", 0)
        settings.setdefault("WEBSERVICE_PLUGINS_AUTOLOAD", False)
        settings.setdefault("WEBSERVICE_DISCOVERY_DIR", str(tmp_path / "discovery"))
        config = WebServiceConfig.from_settings(Settings(settings))
        service = Service(config)
        service.start(crawler or get_crawler(settings_dict=settings))
        started.append(service)
        assert service.url is not None, "the service did not start"
        return Served(service, service.url, service.token)

    yield start
    for service in started:
        d = service.stop()
        if d is not None:
            pytest_twisted.blockon(d)


def free_port_holder() -> Any:
    """A listening socket on 127.0.0.1, to make a port taken."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock
