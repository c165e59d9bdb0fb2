"""Each function of the adapter, against a real engine of the installed Scrapy.

The adapter is the one module that reads Scrapy's internals, so it is the
one to check on every supported Scrapy version: ``nox -s adapter`` runs
this file on the oldest and the newest Scrapy that pyproject.toml allows.
It uses no other part of the web service.
"""

from __future__ import annotations

import pytest_twisted
from scrapy.utils.test import get_crawler
from twisted.internet import reactor, task

from scrapy_webservice import adapter
from scrapy_webservice.demo.site import listen
from scrapy_webservice.demo.spiders import DemoSpider


async def wait_for(condition, timeout: float = 20.0) -> None:
    waited = 0.0
    while not condition():
        assert waited < timeout, "timed out"
        await task.deferLater(reactor, 0.05, lambda: None)
        waited += 0.05


@pytest_twisted.ensureDeferred
async def test_the_adapter_reads_and_steers_a_real_engine():
    shop_port, shop_url = listen(products=60, delay=0.3)
    crawler = get_crawler(
        DemoSpider,
        {
            "CONCURRENT_REQUESTS": 2,
            "ROBOTSTXT_OBEY": False,
            "SPIDER_MODULES": ["scrapy_webservice.demo.spiders"],
            "TELNETCONSOLE_ENABLED": False,
        },
    )
    assert adapter.engine_of(crawler) is None
    assert adapter.spider_of(crawler) is None
    assert adapter.crawl_state(adapter.engine_of(crawler)) == "closed"
    try:
        done = crawler.crawl(url=shop_url)
        await wait_for(lambda: adapter.spider_of(crawler) is not None)
        engine = adapter.engine_of(crawler)
        await wait_for(lambda: (adapter.scheduler_size(engine) or 0) > 0)
        assert adapter.crawl_state(engine) == "running"
        assert adapter.downloading(engine) <= 2
        status = adapter.engine_status(engine)
        assert status["engine.spider.name"] == "demo"
        names = {type(ext).__name__ for ext in adapter.enabled_extensions(crawler)}
        assert "CoreStats" in names
        assert adapter.project_spider_names(crawler) == ["demo", "demo2"]

        engine.pause()
        await wait_for(lambda: adapter.in_flight_requests(engine) != [])
        assert adapter.crawl_state(engine) == "pausing"
        assert all(r.url.startswith(shop_url) for r in adapter.in_flight_requests(engine))
        await wait_for(lambda: adapter.crawl_state(engine) == "paused")
        pages = crawler.stats.get_value("response_received_count")
        adapter.resume(engine)
        assert adapter.crawl_state(engine) in ("running", "pausing")
        # Fetching again at once, not at the next heartbeat (5 s away).
        await wait_for(
            lambda: crawler.stats.get_value("response_received_count") > pages, timeout=4.0
        )

        closing = adapter.close_spider(crawler, "closed_by_test")
        assert closing is not None
        await done
    finally:
        await shop_port.stopListening()
    assert crawler.stats.get_value("finish_reason") == "closed_by_test"
    assert adapter.close_spider(crawler, "again") is None
    assert adapter.spider_of(crawler) is None
