"""The extension, the add-on and the service's lifecycle, in this process."""

from __future__ import annotations

import logging
import socket
import stat

import pytest
import pytest_twisted
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.test import get_crawler
from twisted.internet import reactor, task, threads

from scrapy_webservice import Addon, WebService
from scrapy_webservice.cli.client import WebServiceClient, find_services
from scrapy_webservice.demo.site import listen
from scrapy_webservice.demo.spiders import DemoSpider
from scrapy_webservice.public.settings import WebServiceConfig
from scrapy_webservice.server.service import Service, current_service


def test_disabled_means_not_configured():
    with pytest.raises(NotConfigured):
        WebService.from_crawler(get_crawler(settings_dict={"WEBSERVICE_ENABLED": False}))


def test_bad_setting_disables_the_service_with_a_clear_error(caplog):
    crawler = get_crawler(settings_dict={"WEBSERVICE_PORT": "not-a-port"})
    with caplog.at_level(logging.ERROR), pytest.raises(NotConfigured):
        WebService.from_crawler(crawler)
    assert "Web service disabled: WEBSERVICE_PORT must be" in caplog.text


def test_addon_enables_the_extension():
    settings = Settings({"EXTENSIONS": {"scrapy.extensions.corestats.CoreStats": 1}})
    Addon().update_settings(settings)
    extensions = settings.getdict("EXTENSIONS")
    assert extensions[WebService] == 500
    assert extensions["scrapy.extensions.corestats.CoreStats"] == 1


def test_auth_off_on_a_public_interface_is_refused(caplog, tmp_path):
    config = WebServiceConfig.from_settings(
        Settings(
            {
                "WEBSERVICE_HOST": "0.0.0.0",  # noqa: S104 (the point of the test)
                "WEBSERVICE_AUTH_ENABLED": False,
                "WEBSERVICE_PORT": 0,
                "WEBSERVICE_DISCOVERY_DIR": str(tmp_path),
            }
        )
    )
    service = Service(config)
    with caplog.at_level(logging.ERROR):
        service.start(get_crawler())
    assert service.port is None
    assert service.failed
    assert "refusing to listen on '0.0.0.0'" in caplog.text


@pytest_twisted.ensureDeferred
async def test_auth_off_on_loopback_is_allowed(serve):
    served = serve(WEBSERVICE_AUTH_ENABLED=False)
    assert served.token is None
    reply = await served.get("", token=None)
    assert reply.status == 200


@pytest_twisted.ensureDeferred
async def test_discovery_file_is_written_private_and_removed(serve, caplog):
    with caplog.at_level(logging.INFO):
        served = serve(WEBSERVICE_DISCOVERY_DIR=None)
    path = served.service.discovery_path
    assert path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [info] = find_services()
    assert info["url"] == served.url
    assert info["token"] == served.token
    assert f"Web service URL and token written to {path}" in caplog.text
    assert served.token not in caplog.text
    await served.service.stop()
    assert not path.exists()


@pytest_twisted.ensureDeferred
async def test_crawl_in_process_serves_and_stops(caplog):
    """engine_started starts the service, a JSON-RPC call stops the crawl, the port closes."""
    shop_port, shop_url = listen(products=30, delay=0.2)
    crawler = get_crawler(
        DemoSpider,
        {
            "EXTENSIONS": {WebService: 500},
            "WEBSERVICE_PORT": 0,
            "CONCURRENT_REQUESTS": 2,
            "ROBOTSTXT_OBEY": False,
        },
    )
    try:
        with caplog.at_level(logging.INFO):
            crawl = crawler.crawl(url=shop_url)
            while current_service() is None or current_service().url is None:
                await task.deferLater(reactor, 0.05, lambda: None)
            service = current_service()
            url = service.url
            client = WebServiceClient(url, service.token.reveal())
            running = await threads.deferToThread(client.get, "crawler/engine/open_spiders")
            assert running == ["demo"]
            answer = await threads.deferToThread(
                client.call, "crawler/engine", "close_spider", "demo"
            )
            assert answer["closing"] is True
            await crawl
    finally:
        await shop_port.stopListening()
    assert crawler.stats.get_value("finish_reason") == "closed_by_webservice"
    assert f"Web service listening on {url.rstrip('/')}" in caplog.text
    assert current_service() is None
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the port is still open"


@pytest_twisted.ensureDeferred
async def test_a_crawl_after_the_service_stopped_gets_the_new_service(tmp_path):
    settings = {"WEBSERVICE_PORT": 0, "WEBSERVICE_DISCOVERY_DIR": str(tmp_path)}
    first = WebService.from_crawler(get_crawler(settings_dict=settings))
    second = WebService.from_crawler(get_crawler(settings_dict=settings))
    shared = first.service
    assert second.service is shared
    first.engine_started()
    assert shared.port is not None
    await deferred_from_coro(first.engine_stopped())
    assert current_service() is None
    second.engine_started()
    try:
        assert second.service is not shared
        assert current_service() is second.service
        assert second.service.port is not None
        third = WebService.from_crawler(get_crawler(settings_dict=settings))
        assert third.service is second.service
    finally:
        await deferred_from_coro(second.engine_stopped())
    assert current_service() is None
