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

from scrapy_webservice.adapter import internals as adapter
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


@pytest_twisted.ensureDeferred
async def test_the_downloader_and_scheduler_are_read_and_tuned_on_a_real_engine():
    from scrapy import signals

    shop_port, shop_url = listen(products=200, delay=0.1)
    crawler = get_crawler(
        DemoSpider,
        {
            "CONCURRENT_REQUESTS": 8,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
            "ROBOTSTXT_OBEY": False,
            "AUTOTHROTTLE_ENABLED": True,
            "AUTOTHROTTLE_START_DELAY": 0.0,
            "SPIDER_MODULES": ["scrapy_webservice.demo.spiders"],
            "TELNETCONSOLE_ENABLED": False,
        },
    )
    peak = [0]

    def probe(**_: object) -> None:
        for slot in adapter.downloader_of(crawler).slots.values():
            peak[0] = max(peak[0], len(slot.transferring))

    try:
        done = crawler.crawl(url=shop_url)
        await wait_for(lambda: adapter.spider_of(crawler) is not None)
        engine = adapter.engine_of(crawler)
        downloader = adapter.downloader_of(crawler)
        # Guarded before the first slot is made: the limit of 1 holds for every request.
        adapter.guard_slot_concurrency(crawler)
        crawler.signals.connect(probe, signal=signals.request_reached_downloader)
        crawler.signals.connect(probe, signal=signals.response_downloaded)
        await wait_for(lambda: (adapter.scheduler_size(engine) or 0) > 4)
        queues = adapter.scheduler_queues(engine)
        assert set(queues) == {"memory"}
        assert 0 < queues["memory"] <= adapter.scheduler_size(engine)

        await wait_for(lambda: "127.0.0.1" in downloader.slots)
        slot = downloader.slots["127.0.0.1"]
        facts = adapter.slot_facts(slot)
        assert set(facts) == {
            "active",
            "queued",
            "transferring",
            "concurrency",
            "delay",
            "jitter",
            "idle_seconds",
        }
        assert facts["concurrency"] == 1
        # Seconds since the slot last sent a request, on the downloader's own clock.
        await wait_for(lambda: adapter.slot_facts(slot)["idle_seconds"] is not None)
        assert 0 <= adapter.slot_facts(slot)["idle_seconds"] < 60
        assert adapter.slot_jitter(slot) == 0.5  # RANDOMIZE_DOWNLOAD_DELAY's default

        adapter.set_default_slot_delay(crawler, 0.75)
        assert adapter.default_slot_delay(crawler) == 0.75

        throttle = adapter.autothrottle_of(crawler)
        assert throttle is not None
        adapter.set_autothrottle_listening(crawler, throttle, False)
        slot.delay = 0.0
        pages = crawler.stats.get_value("response_received_count", 0)
        await wait_for(lambda: crawler.stats.get_value("response_received_count", 0) > pages + 3)
        assert slot.delay == 0.0  # nothing adjusts it any more
        adapter.set_autothrottle_listening(crawler, throttle, True)
        pages = crawler.stats.get_value("response_received_count", 0)
        await wait_for(lambda: crawler.stats.get_value("response_received_count", 0) > pages + 1)
        assert slot.delay > 0.0  # AutoThrottle adjusts it again
        assert peak[0] == 1

        adapter.close_spider(crawler, "closed_by_test")
        await done
    finally:
        await shop_port.stopListening()
    assert adapter.autothrottle_of(get_crawler(DemoSpider, {})) is None
