"""pytest fixtures for plugin authors (registered through the ``pytest11`` entry point).

Two ways to test a resource, both on 127.0.0.1 with a real token, and
neither loading whatever else is installed on the machine:

``webservice``
    A service in the test process, with the plugins you pass (objects or
    modules) and nothing else. Fast; the test is a ``pytest-twisted``
    coroutine (``@pytest_twisted.ensureDeferred``) run with
    ``--reactor=asyncio``, and awaits ``get``/``call``/``request``.

``webservice_crawl``
    A real ``scrapy crawl`` subprocess of the demo shop with the service on,
    loading only the entry-point plugins you name (as installed by pip).
    Slower, synchronous, and what a user will run.

``http()`` and ``Reply`` are a plain HTTP client with every header under
the test's control (for 401/403/413 checks).
"""

from __future__ import annotations

import http.client as http_client
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .cli.client import WebServiceClient

if TYPE_CHECKING:
    # Imported where used: every pytest session of a project that installs
    # this package loads this module (entry point ``pytest11``), so it
    # imports nothing heavy (Scrapy, Twisted) until a fixture is used.
    from .public.api import WebServiceAPI
    from .server.service import Service

__all__ = [
    "CrawlWithService",
    "Reply",
    "ServedService",
    "WatchedProcess",
    "http",
    "rpc",
    "scrapy_has_reactorless_mode",
    "start_service",
    "start_shop",
    "webservice",
    "webservice_crawl",
]


# -- a plain HTTP client ----------------------------------------------------------


@dataclass
class Reply:
    """An HTTP answer: status, body, lower-cased headers, and the body as JSON."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def http(
    url: str,
    method: str = "GET",
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    token: str | None = None,
    timeout: float = 10,
) -> Reply:
    """One request with ``http.client``: no proxies, no retries, headers as given."""
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname is not None, f"no host in {url!r}"
    conn = http_client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    all_headers = dict(headers or {})
    if token is not None:
        all_headers.setdefault("Authorization", f"Bearer {token}")
    if isinstance(body, str):
        body = body.encode()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, data, {k.lower(): v for k, v in response.getheaders()})
    finally:
        conn.close()


def rpc(
    url: str, method: str, params: Any = None, token: str | None = None, request_id: Any = 1
) -> Reply:
    """A JSON-RPC 2.0 call as raw HTTP, for checking the exact answer."""
    payload: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        payload["params"] = params
    headers = {"Content-Type": "application/json"}
    return http(url, "POST", json.dumps(payload), headers=headers, token=token)


# -- a service in the test process ---------------------------------------------------


def start_service(
    *plugins: object,
    settings: dict[str, Any] | None = None,
    crawler: Any = None,
    front: str | None = None,
) -> Service:
    """A listening service with exactly ``plugins`` (no entry points), on a free port.

    ``front``: ``"twisted"`` or ``"asyncio"`` (the one Scrapy without a reactor
    gets, run here on Twisted's asyncio reactor); by default, the crawl's.
    """
    from scrapy.settings import Settings
    from scrapy.utils.test import get_crawler

    settings = {"WEBSERVICE_PORT": 0, "WEBSERVICE_PLUGINS_AUTOLOAD": False, **(settings or {})}
    from .public.settings import WebServiceConfig
    from .server.plugins import Plugins
    from .server.service import Service

    manager = Plugins(strict=bool(settings.get("WEBSERVICE_PLUGINS_STRICT", False)))
    for plugin in plugins:
        manager.register(plugin)
    service = Service(
        WebServiceConfig.from_settings(Settings(settings)), plugins=manager, front=front
    )
    service.start(crawler or get_crawler(settings_dict=settings))
    return service


@dataclass
class ServedService:
    """A service listening in this process; ``await`` its methods from a twisted test."""

    service: Service
    url: str
    token: str | None

    @property
    def api(self) -> WebServiceAPI:
        """The public API of the service, as its resources and plugins see it."""
        return self.service.api

    async def request(self, path: str, method: str = "GET", **kwargs: Any) -> Reply:
        from twisted.internet import threads

        kwargs.setdefault("token", self.token)
        return await threads.deferToThread(http, self.url + path, method, **kwargs)

    async def get(self, path: str = "", **kwargs: Any) -> Reply:
        return await self.request(path, "GET", **kwargs)

    async def rpc(self, path: str, method: str, params: Any = None, **kwargs: Any) -> Reply:
        from twisted.internet import threads

        kwargs.setdefault("token", self.token)
        return await threads.deferToThread(rpc, self.url + path, method, params, **kwargs)

    async def call(self, path: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """A JSON-RPC call's result; raises ``JsonRpcError`` on an error answer."""
        from twisted.internet import threads

        client = WebServiceClient(self.url, self.token)
        return await threads.deferToThread(client.call, path, method, *args, **kwargs)


#: The HTTP fronts a service runs on: Twisted Web, and asyncio (Scrapy without a reactor).
FRONTS = ("twisted", "asyncio")


@pytest.fixture(params=FRONTS)
def webservice_front(request: pytest.FixtureRequest) -> str:
    """The front ``webservice`` serves on: each in turn, so every test that uses it runs on both.

    A plugin's tests learn that its resources work with and without a
    reactor without a change; a test that is about one front only passes
    ``front=`` to ``webservice`` (and runs once per front all the same).
    """
    return str(request.param)


@pytest.fixture
def webservice(tmp_path: Path, webservice_front: str) -> Iterator[Callable[..., ServedService]]:
    """Start services with given plugins: ``webservice(my_plugin, WEBSERVICE_DEBUG=True)``.

    Settings are keyword arguments; ``WEBSERVICE_RESOURCES`` mounts plain
    resource classes without a plugin. A service that cannot start fails the
    test, unless ``must_start=False`` (to test that it refuses). The test
    runs once per front (``webservice_front``); ``front="twisted"`` or
    ``"asyncio"`` picks one. The services stop after the test.
    """
    import pytest_twisted

    started: list[Service] = []

    def start(
        *plugins: object,
        crawler: Any = None,
        must_start: bool = True,
        front: str | None = None,
        **settings: Any,
    ) -> ServedService:
        settings.setdefault("WEBSERVICE_DISCOVERY_DIR", str(tmp_path / "discovery"))
        service = start_service(
            *plugins, settings=settings, crawler=crawler, front=front or webservice_front
        )
        started.append(service)
        if service.url is None and must_start:
            pytest.fail("the web service did not start: see the captured log")
        token = service.token.reveal() if service.token else None
        return ServedService(service, service.url or "", token)

    yield start
    for service in started:
        stopped = service.stop()
        if stopped is not None:
            pytest_twisted.blockon(stopped)


# -- a real crawl in a subprocess ------------------------------------------------------


class WatchedProcess:
    """A child process whose merged output is collected, line by line, as it comes."""

    def __init__(
        self, args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.args = args
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env if env is not None else {**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def output_tail(self, lines: int = 60) -> str:
        with self._changed:
            return "\n".join(self.lines[-lines:])

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first output line matching ``pattern``; fails with the output so far."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if match := regex.search(line):
                        return match
                seen = len(self.lines)
                ended = self.proc.poll() is not None and not self._reader.is_alive()
                if ended or time.monotonic() > deadline:
                    raise AssertionError(
                        f"{pattern!r} not seen in the output of {self.args}:\n"
                        + "\n".join(self.lines[-60:])
                    )
                self._changed.wait(0.5)

    def wait(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class CrawlWithService(WatchedProcess):
    """A ``scrapy crawl`` subprocess of the demo shop, with the web service on."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], discovery: Path):
        super().__init__(args, cwd, env)
        self.discovery = discovery

    @property
    def client(self) -> WebServiceClient:
        """A client of the crawl's service, once it listens (found by its discovery file)."""
        self.wait_for(r"Web service URL and token written to")
        return WebServiceClient.discover(self.discovery)


def start_shop(products: int = 40, delay: float = 0.0) -> tuple[WatchedProcess, str]:
    """The demo shop in a subprocess; returns it and its URL once it listens."""
    options = ["--products", str(products), "--delay", str(delay)]
    shop = WatchedProcess([sys.executable, "-m", "scrapy_webservice.demo.site", *options])
    url = shop.wait_for(r"^(http://127\.0\.0\.1:\d+/)$", timeout=30).group(1)
    return shop, url


def scrapy_has_reactorless_mode() -> bool:
    """Whether this Scrapy can run without a Twisted reactor (2.15 and later)."""
    import importlib.util

    return importlib.util.find_spec("scrapy.utils.reactorless") is not None


_PROJECT_SETTINGS = """\
SPIDER_MODULES = ["scrapy_webservice.demo.spiders"]
ADDONS = {{"scrapy_webservice.Addon": 0}}
ROBOTSTXT_OBEY = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
CONCURRENT_REQUESTS = 4
WEBSERVICE_PORT = 0
WEBSERVICE_DISCOVERY_DIR = {discovery!r}
WEBSERVICE_PLUGINS_ONLY = {only!r}
"""


@pytest.fixture
def webservice_crawl(tmp_path: Path) -> Iterator[Callable[..., CrawlWithService]]:
    """Crawl the demo shop with the service on and only the named plugins loaded.

    ``webservice_crawl(plugins=["myplugin"], settings={...}, products=40, delay=0.3)``;
    ``plugins`` are entry-point names (what ``scrapy-ws plugins`` shows).
    The shop answers after ``delay`` seconds so the crawl lasts long enough
    to query; everything started is stopped after the test.
    ``reactorless=True`` crawls without a Twisted reactor
    (``TWISTED_REACTOR_ENABLED = False``, the asyncio front); on a Scrapy
    without that mode (before 2.15) the test is skipped, saying so.
    """
    started: list[WatchedProcess] = []

    def start(
        plugins: Iterable[str] = (),
        settings: dict[str, Any] | None = None,
        products: int = 40,
        delay: float = 0.3,
        reactorless: bool = False,
    ) -> CrawlWithService:
        if reactorless:
            if not scrapy_has_reactorless_mode():
                pytest.skip("Scrapy before 2.15 has no reactorless mode (TWISTED_REACTOR_ENABLED)")
            settings = {"TWISTED_REACTOR_ENABLED": "False", **(settings or {})}
        project = tmp_path / f"project{len(started)}"
        project.mkdir()
        discovery = project / "discovery"
        (project / "scrapy.cfg").write_text("[settings]\ndefault = ws_test_settings\n")
        (project / "ws_test_settings.py").write_text(
            _PROJECT_SETTINGS.format(discovery=str(discovery), only=list(plugins))
        )
        shop, shop_url = start_shop(products, delay)
        started.append(shop)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        from .server.plugins import ENV_DISABLE, ENV_NO_AUTOLOAD

        env.pop(ENV_NO_AUTOLOAD, None)
        env.pop(ENV_DISABLE, None)
        args = [sys.executable, "-m", "scrapy", "crawl", "demo", "-a", f"url={shop_url}"]
        for name, value in (settings or {}).items():
            args += ["-s", f"{name}={json.dumps(value) if not isinstance(value, str) else value}"]
        crawl = CrawlWithService(args, project, env, discovery)
        started.append(crawl)
        return crawl

    yield start
    for process in reversed(started):
        process.stop()
