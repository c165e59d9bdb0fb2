"""The telnet console's jobs on a crawl in this process: memory, log, settings, slots.

In the test process so that what the service answers can be compared with
what Scrapy itself holds (``trackref.live_refs``, the log handler's level,
the downloader's slots), over real HTTP to the real service.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import pytest_twisted
from scrapy.utils import trackref
from scrapy.utils.log import get_scrapy_root_handler
from scrapy.utils.test import get_crawler
from twisted.internet import reactor, task, threads

from scrapy_webservice import WebService
from scrapy_webservice.adapter import internals as adapter
from scrapy_webservice.cli.client import JsonRpcError, WebServiceClient
from scrapy_webservice.demo.site import listen
from scrapy_webservice.demo.spiders import DemoSpider
from scrapy_webservice.server.service import current_service
from scrapy_webservice.testing import http

SECRETS = {
    "MY_API_TOKEN": "tok-1111",
    "DB_PASSWORD": "pw-2222",
    "CLIENT_SECRET": "sec-3333",
    "AWS_SECRET_ACCESS_KEY": "key-4444",
    "PROXY_AUTH": "auth-5555",
    "SERVICE_CREDENTIALS": {"user": "u", "value": "cred-6666"},
    "MY_PRIVATE_THING": "listed-7777",
}


async def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    waited = 0.0
    while not (result := condition()):
        assert waited < timeout, f"timed out waiting for {what or condition}"
        await task.deferLater(reactor, 0.05, lambda: None)
        waited += 0.05
    return result


class Session:
    """A crawl of the local shop in this process, its service, and a client of it."""

    def __init__(self, crawler: Any, client: WebServiceClient) -> None:
        self.crawler = crawler
        self.client = client

    async def call(self, path: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return await threads.deferToThread(self.client.call, path, method, *args, **kwargs)

    async def error(self, path: str, method: str, *args: Any, **kwargs: Any) -> JsonRpcError:
        with pytest.raises(JsonRpcError) as caught:
            await self.call(path, method, *args, **kwargs)
        return caught.value

    async def paused_and_idle(self) -> None:
        """Paused, with nothing in flight or downloading."""
        engine = self.crawler.engine
        await wait_for(
            lambda: self.crawler.stats.get_value("response_received_count", 0) > 2,
            what="a few pages",
        )
        engine.pause()
        await wait_for(
            lambda: (
                not engine.downloader.active
                and current_service().api.crawl("demo").state == "paused"
            ),
            what="paused with nothing in flight",
        )


@asynccontextmanager
async def crawling(
    tmp_path, products: int = 400, delay: float = 0.2, **settings: Any
) -> AsyncIterator[Session]:
    shop_port, shop_url = listen(products=products, delay=delay)
    settings = {
        "EXTENSIONS": {WebService: 500},
        "WEBSERVICE_PORT": 0,
        "WEBSERVICE_DISCOVERY_DIR": str(tmp_path),
        "CONCURRENT_REQUESTS": 4,
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        **settings,
    }
    crawler = get_crawler(DemoSpider, settings)
    done = crawler.crawl(url=shop_url)
    try:
        service = await wait_for(
            lambda: (s := current_service()) is not None and s.api.crawls() and s,
            what="the service and its crawl",
        )
        yield Session(crawler, WebServiceClient(service.url, service.token.reveal()))
    finally:
        if adapter.spider_of(crawler) is not None:
            crawler.engine.unpause()
            adapter.close_spider(crawler, "closed_by_test")
        await done
        await shop_port.stopListening()


@pytest_twisted.ensureDeferred
async def test_live_refs_agree_with_trackref_and_oldest_names_a_tracked_request(tmp_path):
    async with crawling(tmp_path) as session:
        await session.paused_and_idle()
        rows = await session.call("memory", "live_refs")
        own = {
            cls.__name__: len(objects) for cls, objects in trackref.live_refs.items() if objects
        }
        assert {row["class"]: row["count"] for row in rows} == own
        assert own.get("Request", 0) > 0  # the scheduler holds requests
        assert all(row["oldest_seconds"] >= 0 for row in rows)

        oldest = await session.call("memory", "oldest", "Request")
        tracked = trackref.get_oldest("Request")
        assert oldest["class"] == "Request"
        assert oldest["url"] == tracked.url
        assert oldest["callback"] == (tracked.callback.__name__ if tracked.callback else None)
        assert oldest["url"] in {r.url for r in trackref.live_refs[type(tracked)]}
        missing = await session.error("memory", "oldest", "NoSuchClass")
        assert missing.code == -32001
        assert "Request" in missing.message

        usage = await session.call("memory", "usage")
        assert usage["rss_bytes"] > 0
        assert usage["peak_rss_bytes"] >= usage["rss_bytes"]
        assert len(usage["gc"]["generations"]) == 3

        collected = await session.call("memory", "collect")
        assert collected["unreachable"] >= 0
        assert collected["seconds"] >= 0
        again = await session.error("memory", "collect")
        assert again.code == -32000
        assert "try in" in again.message


@pytest_twisted.ensureDeferred
async def test_set_level_changes_what_is_written_and_streamed(tmp_path):
    async with crawling(tmp_path, products=2000, LOG_LEVEL="INFO") as session:
        if get_scrapy_root_handler() is None:  # get_crawler does not install Scrapy's handler
            from scrapy.utils.log import install_scrapy_root_handler

            install_scrapy_root_handler(session.crawler.settings)
        handler = get_scrapy_root_handler()
        handler.setLevel(logging.INFO)
        assert await session.call("log", "get_level") == {"logger": None, "level": "INFO"}

        service = current_service()
        url = service.url + "events?events=log&level=DEBUG"
        received: list[dict[str, Any]] = []
        stream = await threads.deferToThread(_open_stream, url, service.token.reveal())
        try:
            reader = threads.deferToThread(_read_events, stream, received, 400)
            logging.getLogger("scrapy.core.engine").debug("before: not written, not streamed")
            answer = await session.call("log", "set_level", "DEBUG")
            assert answer == {"logger": None, "level": "DEBUG"}
            assert handler.level == logging.DEBUG
            logging.getLogger("scrapy.core.engine").debug("after: written and streamed")
            await wait_for(
                lambda: any("after: written" in e["message"] for e in received),
                what="the DEBUG record on /events",
            )
            assert not any("before: not written" in e["message"] for e in received)
            assert {e["level"] for e in received} >= {"DEBUG"}
            assert all(e["logger"] for e in received)

            await session.call("log", "set_level", "INFO")
            assert handler.level == logging.INFO
            mark = len(received)
            logging.getLogger("scrapy.core.engine").debug("back: not streamed")
            logging.getLogger("scrapy.core.engine").info("info: streamed")
            await wait_for(lambda: any("info: streamed" in e["message"] for e in received))
            assert not any("back: not" in e["message"] for e in received[mark:])
            assert service.log.handler.threshold == logging.DEBUG
        finally:
            # Shut down: a thread still reads the stream, which keeps its socket open.
            stream.sock.shutdown(socket.SHUT_RDWR)
            stream.close()
            await reader
        # The client gone, records below ERROR are no longer published.
        await wait_for(
            lambda: service.log.handler.threshold == logging.ERROR, what="the follower released"
        )

        # One logger only: the others stay at the crawl-wide level.
        one = await session.call("log", "set_level", "DEBUG", "scrapy.core.scraper")
        assert one == {"logger": "scrapy.core.scraper", "level": "DEBUG"}
        assert await session.call("log", "get_level") == {"logger": None, "level": "INFO"}
        other = await session.call("log", "get_level", "scrapy.core.engine")
        assert other["level"] == "INFO"
        bad = await session.error("log", "set_level", "LOUD")
        assert bad.code == -32602
        unknown = await session.error("log", "get_level", "no.such.logger.anywhere")
        assert unknown.code == -32001
        assert "no.such.logger.anywhere" not in logging.root.manager.loggerDict
        logging.getLogger("scrapy.core.scraper").setLevel(logging.NOTSET)
        logging.getLogger().setLevel(logging.NOTSET)


def _open_stream(url: str, token: str) -> Any:
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(
        "GET", f"{parts.path}?{parts.query}", headers={"Authorization": f"Bearer {token}"}
    )
    sock = conn.sock
    response = conn.getresponse()
    assert response.status == 200
    response.sock = sock  # type: ignore[attr-defined]
    return response


def _read_events(response: Any, into: list[dict[str, Any]], limit: int) -> None:
    try:
        while len(into) < limit:
            line = response.fp.readline()
            if not line:
                return
            if line.startswith(b"data: "):
                into.append(json.loads(line[6:]))
    except (OSError, ValueError, AttributeError):
        return


@pytest_twisted.ensureDeferred
async def test_settings_are_answered_with_every_secret_redacted(tmp_path):
    # Port 1 of this machine: storing the feed at the end fails at once.
    feed = "ftp://feeduser:feed-pass-8888@127.0.0.1:1/items.json"
    settings = {
        **SECRETS,
        "WEBSERVICE_SETTINGS_REDACT": ["MY_PRIVATE_THING"],
        "WEBSERVICE_READONLY_TOKEN": "reader-token-9999",
        "HTTPPROXY_URL": "http://proxyuser:proxy-pass-0000@proxy.example.com:3128",
        "FEEDS": {feed: {"format": "json"}},
        "DEFAULT_REQUEST_HEADERS": {"Authorization": "Bearer header-secret-1212"},
    }
    # Long enough for the ~500 calls below, which the bounded service answers in turn.
    async with crawling(tmp_path, products=200, **settings) as session:
        service = current_service()
        secrets = [
            "tok-1111",
            "pw-2222",
            "sec-3333",
            "key-4444",
            "auth-5555",
            "cred-6666",
            "listed-7777",
            "feed-pass-8888",
            "reader-token-9999",
            "proxy-pass-0000",
            "header-secret-1212",
            service.token.reveal(),
        ]
        for name in [*SECRETS, "WEBSERVICE_READONLY_TOKEN"]:
            answer = await session.call("crawler/settings", "get", name)
            assert answer["value"] == "<redacted>", name
        feeds = await session.call("crawler/settings", "get", "FEEDS")
        (uri,) = feeds["value"]
        assert uri == "ftp://<redacted>@127.0.0.1:1/items.json"
        assert feeds["value"][uri] == {"format": "json"}
        proxy = await session.call("crawler/settings", "get", "HTTPPROXY_URL")
        assert proxy["value"] == "http://<redacted>@proxy.example.com:3128"
        headers = await session.call("crawler/settings", "get", "DEFAULT_REQUEST_HEADERS")
        assert headers["value"]["Authorization"] == "<redacted>"
        plain = await session.call("crawler/settings", "get", "CONCURRENT_REQUESTS", "demo")
        assert plain == {
            "name": "CONCURRENT_REQUESTS",
            "set": True,
            "value": 4,
            "priority": "project",
        }
        unset = await session.call("crawler/settings", "get", "NOT_A_SETTING_AT_ALL")
        assert unset["set"] is False
        names = await session.call("crawler/settings", "names", "WEBSERVICE_")
        assert "WEBSERVICE_SETTINGS_REDACT" in names
        assert all(name.startswith("WEBSERVICE_") for name in names)
        everything = await session.call("crawler/settings", "names")
        assert "DB_PASSWORD" in everything
        dumped = "\n".join(
            [json.dumps(await session.call("crawler/settings", "get", n)) for n in everything]
        )
        for secret in secrets:
            assert secret not in dumped, secret
        # The read-only token reads them, by GET too, redacted all the same.
        reply = await threads.deferToThread(
            http, service.url + "crawler/settings/get?name=DB_PASSWORD", token="reader-token-9999"
        )
        assert reply.status == 200
        assert reply.json["value"] == "<redacted>"


@pytest_twisted.ensureDeferred
async def test_a_tuned_slot_keeps_its_tuning_when_scrapy_makes_it_again(tmp_path):
    async with crawling(tmp_path, delay=0.05) as session:
        downloader = session.crawler.engine.downloader
        await wait_for(lambda: "127.0.0.1" in downloader.slots, what="the shop's slot")
        await session.call("crawler/downloader", "set_delay", "demo", 0.25, "127.0.0.1")
        tuned = await session.call("crawler/downloader", "set_concurrency", "demo", 2, "127.0.0.1")
        (slot,) = tuned["slots"]
        assert (slot["key"], slot["delay"], slot["concurrency"]) == ("127.0.0.1", 0.25, 2)
        assert 0 <= slot["idle_seconds"] < 60

        await session.paused_and_idle()
        # Scrapy's own slot collector, run now rather than in a minute.
        await wait_for(
            lambda: downloader._slot_gc(age=0) or "127.0.0.1" not in downloader.slots,
            what="Scrapy dropping the idle slot",
        )
        assert (await session.call("crawler/downloader", "slots", "demo"))["slots"] == []
        await session.call("crawler/engine", "unpause", "demo")
        await wait_for(lambda: "127.0.0.1" in downloader.slots, what="the slot made again")
        again = downloader.slots["127.0.0.1"]
        assert (again.delay, again.concurrency) == (0.25, 2)

        # Every slot and those made later; then back to the configuration.
        everywhere = await session.call("crawler/downloader", "set_delay", "demo", 0.0)
        assert everywhere["default_delay"] == 0.0
        assert all(s["delay"] == 0.0 for s in everywhere["slots"])
        await session.call("crawler/downloader", "set_total_concurrency", "demo", 3)
        assert downloader.total_concurrency == 3
        reset = await session.call("crawler/downloader", "reset", "demo")
        assert reset["total_concurrency"] == 4
        assert reset["tuned"] is False
        assert (again.delay, again.concurrency) == (0.0, 8)
        for method, args in [
            ("set_delay", ["demo", -1]),
            ("set_concurrency", ["demo", 0]),
            ("set_total_concurrency", ["demo", 0]),
        ]:
            assert (await session.error("crawler/downloader", method, *args)).code == -32602
        missing = await session.error("crawler/downloader", "set_delay", "demo", 1, "nowhere")
        assert missing.code == -32001
        no_throttle = await session.error(
            "crawler/downloader", "set_autothrottle", spider="demo", enabled=False
        )
        assert "AutoThrottle was not loaded" in no_throttle.message
        throttle = await session.call("crawler/downloader", "autothrottle", "demo")
        assert (throttle["loaded"], throttle["enabled"]) == (False, False)
