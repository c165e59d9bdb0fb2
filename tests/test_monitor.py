"""Rates and pause state, computed exactly on a controlled clock.

The engine here is a stand-in with the three things the monitor reads
(``spider``, ``paused`` and the slot's in-progress set); the real engine is
exercised by ``test_operator.py``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from twisted.internet.task import Clock

from scrapy_webservice.adapter.internals import crawl_state, in_flight_requests
from scrapy_webservice.public.monitor import WINDOW, CrawlMonitor, Sample, per_minute
from scrapy_webservice.public.settings import WebServiceConfig


class Engine(SimpleNamespace):
    def __init__(self) -> None:
        super().__init__(
            spider=SimpleNamespace(name="demo"),
            paused=False,
            _slot=SimpleNamespace(inprogress=set(), closing=None),
        )


def monitored(interval: float = 1.0):
    engine = Engine()
    crawler = SimpleNamespace(
        spider=engine.spider,
        engine=engine,
        stats=MemoryStatsCollector(SimpleNamespace(settings=Settings())),
    )
    published: list[tuple[str, dict[str, Any]]] = []
    clock = Clock()
    monitor = CrawlMonitor(crawler, interval, lambda n, **d: published.append((n, d)), clock)
    return monitor, crawler, clock, published


def test_sample_reads_the_counters_and_status_counts():
    sample = Sample.of(
        {
            "response_received_count": 10,
            "item_scraped_count": 7,
            "log_count/ERROR": 2,
            "downloader/response_status_count/200": 9,
            "downloader/response_status_count/404": 1,
            "start_time": "not a number",
        },
        time=5.0,
    )
    assert sample.counts == {"pages": 10, "items": 7, "errors": 2, "retries": 0}
    assert sample.statuses == {"200": 9, "404": 1}


def test_per_minute_is_the_difference_over_the_time():
    first = Sample(0.0, {"pages": 0, "items": 0, "errors": 0, "retries": 0}, {})
    last = Sample(30.0, {"pages": 45, "items": 15, "errors": 1, "retries": 3}, {})
    assert per_minute(first, last) == {
        "seconds": 30.0,
        "pages_per_minute": 90.0,
        "items_per_minute": 30.0,
        "errors_per_minute": 2.0,
        "retries_per_minute": 6.0,
    }
    assert per_minute(last, last)["pages_per_minute"] == 0.0


def test_last_minute_forgets_older_samples_and_since_start_does_not():
    monitor, crawler, clock, published = monitored(interval=1.0)
    monitor.start()
    stats = crawler.stats
    # 60 pages a minute for two minutes, then 600 a minute for one.
    for second in range(1, 181):
        stats.inc_value("response_received_count", 1 if second <= 120 else 10)
        clock.advance(1.0)
    rates = monitor.rates()
    assert rates["elapsed"] == 180.0
    assert rates["pages"] == 120 + 600
    assert rates["since_start"]["pages_per_minute"] == pytest.approx(720 / 3)
    assert rates["last_minute"]["seconds"] == WINDOW
    assert rates["last_minute"]["pages_per_minute"] == pytest.approx(600.0)
    assert len(monitor.samples) <= WINDOW / 1.0 + 2
    # Each sample published its rates.
    assert [name for name, _ in published].count("rates") == 180
    monitor.stop()
    assert not clock.getDelayedCalls()


def test_state_goes_pausing_then_paused_then_running_and_is_published():
    monitor, crawler, clock, published = monitored()
    monitor.start()
    engine = crawler.engine
    request = Request("http://example.com/a")
    engine._slot.inprogress.add(request)
    engine.paused = True
    assert monitor.check_state() == "pausing"
    assert [r.url for r in in_flight_requests(engine)] == ["http://example.com/a"]
    clock.advance(0.1)
    assert monitor.state == "pausing"
    engine._slot.inprogress.clear()
    clock.advance(0.1)  # the quick poll while pausing notices
    assert monitor.state == "paused"
    engine.paused = False
    assert monitor.check_state() == "running"
    changes = [(n, d["in_flight"]) for n, d in published if n != "rates"]
    assert changes == [("spider_pausing", 1), ("spider_paused", 0), ("spider_resumed", 0)]
    monitor.stop()
    assert not clock.getDelayedCalls()


def test_a_pause_made_elsewhere_is_noticed_by_the_sampler():
    monitor, crawler, clock, published = monitored()
    monitor.start()
    crawler.engine.paused = True  # e.g. from the telnet console
    clock.advance(1.0)
    assert ("spider_paused", {"spider": "demo", "in_flight": 0}) in published
    monitor.stop()


def test_a_failing_sample_is_logged_and_sampling_goes_on(caplog):
    monitor, crawler, clock, _ = monitored()
    monitor.start()
    crawler.stats = None  # get_stats() now raises
    clock.advance(1.0)
    assert "sampling the stats of demo failed" in caplog.text
    assert monitor._sampler.running


def test_crawl_states():
    engine = Engine()
    assert crawl_state(engine) == "running"
    engine._slot.closing = object()
    assert crawl_state(engine) == "closing"
    engine.spider = None
    assert crawl_state(engine) == "closed"
    assert crawl_state(None) == "closed"


@pytest.mark.parametrize("value", [0, 0.01, -1, 61])
def test_rates_interval_out_of_range_is_refused(value):
    with pytest.raises(ValueError, match="WEBSERVICE_RATES_INTERVAL"):
        WebServiceConfig.from_settings(Settings({"WEBSERVICE_RATES_INTERVAL": value}))
