"""``WEBSERVICE_LINGER``: the service answers a while after the last crawl ended.

So that a scrape sees how a crawl ended (its ``finish_reason``) rather than
a refused connection, which is what "down" means to a fleet's alerts.
"""

from __future__ import annotations

import pytest
import pytest_twisted
from scrapy.utils.test import get_crawler
from twisted.internet import reactor, task, threads

from scrapy_webservice import WebService
from scrapy_webservice.cli.client import WebServiceClient, WebServiceError
from scrapy_webservice.demo.site import listen
from scrapy_webservice.demo.spiders import DemoSpider
from scrapy_webservice.server.service import current_service
from scrapy_webservice.testing import http

from .processes import Crawl


@pytest.mark.integration
def test_a_lingering_service_tells_how_the_crawl_ended(fast_shop, crawls, tmp_path):
    crawl = Crawl(fast_shop, tmp_path / "items.jsonl", settings={"WEBSERVICE_LINGER": 4})
    crawls.append(crawl)
    crawl.wait_for(r"Web service URL and token written to")
    client = WebServiceClient.discover()
    crawl.wait_for(r"Web service lingering 4 s after the last crawl", timeout=60)

    health = client.get("health")
    assert health["lingering"] is True
    assert health["crawls"] == {
        "demo": {"crawl_id": "demo~1", "job": None, "state": "closed", "finish_reason": "finished"}
    }
    # Without a token: alive, and nothing named.
    public = http(client.url + "health")
    assert public.status == 200
    assert public.json == {"status": "ok", "pid": health["pid"]}
    # The crawls are over: no running spider to ask about.
    assert client.get("crawler/engine/open_spiders") == []

    assert crawl.wait(timeout=60) == 0
    assert "Web service stopped" in crawl.output
    with pytest.raises(WebServiceError):
        client.get("health")


@pytest_twisted.ensureDeferred
async def test_a_crawl_that_starts_while_lingering_keeps_the_service(tmp_path):
    shop_port, shop_url = listen(products=5, delay=0.0)
    settings = {
        "EXTENSIONS": {WebService: 500},
        "WEBSERVICE_PORT": 0,
        "WEBSERVICE_DISCOVERY_DIR": str(tmp_path),
        "WEBSERVICE_LINGER": 30,
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
    }
    try:
        first = get_crawler(DemoSpider, settings)
        first_done = first.crawl(url=shop_url)
        while (service := current_service()) is None or not service.lingering:
            await task.deferLater(reactor, 0.05, lambda: None)
        url, token = service.url, service.token.reveal()
        client = WebServiceClient(url, token)
        health = await threads.deferToThread(client.get, "health")
        assert health["crawls"]["demo"]["finish_reason"] == "finished"

        second = get_crawler(DemoSpider, settings)
        second_done = second.crawl(url=shop_url)
        await first_done  # not 30 s: the new crawl ended the linger
        assert current_service() is service
        assert not service.lingering
        assert service.url == url
        while not service.lingering:
            await task.deferLater(reactor, 0.05, lambda: None)
        health = await threads.deferToThread(client.get, "health")
        # Both ended crawls, each by its crawl id (they share the spider's name).
        assert all(label.startswith("demo~") for label in health["crawls"])
        assert sorted(c["finish_reason"] for c in health["crawls"].values()) == [
            "finished",
            "finished",
        ]
        # Stopping the service (the reactor's shutdown, say) ends the linger at once.
        stopped = service.stop()
        await second_done
        if stopped is not None:
            await stopped
        assert current_service() is None
    finally:
        await shop_port.stopListening()
