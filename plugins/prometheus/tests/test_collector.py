"""The collector reads live objects at scrape time; its output parses as Prometheus text.

The crawl here is a stand-in (stats collector real, engine with the three
attributes the collector reads); a real crawl is in test_prometheus_server.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from types import SimpleNamespace

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from scrapy import Request
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from scrapy_webservice_prometheus.collector import ScrapyCollector


class Crawl:
    """A crawler stand-in: hashable, like a real crawler (monitors are keyed by it)."""

    def __init__(self, engine: SimpleNamespace, stats: MemoryStatsCollector) -> None:
        self.engine = engine
        self.stats = stats


def crawl(name: str, stats: dict) -> Crawl:
    collector = MemoryStatsCollector(SimpleNamespace(settings=Settings()))
    collector.set_stats(dict(stats))
    engine = SimpleNamespace(
        spider=SimpleNamespace(name=name),
        paused=False,
        downloader=SimpleNamespace(active={1, 2}),
        _slot=SimpleNamespace(inprogress=set(), closing=None, scheduler=[1, 2, 3]),
    )
    return Crawl(engine, collector)


def scrape(*crawlers, started_at=None) -> dict:
    service = SimpleNamespace(
        running_crawlers=lambda: list(crawlers), monitors={}, started_at=started_at
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapyCollector(service))
    text = generate_latest(registry).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}, text


def samples(family) -> dict:
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples}


STATS = {
    "item_scraped_count": 7,
    "response_received_count": 9,
    "downloader/response_status_count/200": 8,
    "downloader/response_status_count/404": 1,
    "log_count/INFO": 5,
    "memusage/max": 1024,
    "start_time": datetime(2026, 1, 1, tzinfo=timezone.utc),
    "finish_reason": "finished",
}


def test_every_crawl_series_has_the_spider_label():
    families, text = scrape(crawl("a", STATS), crawl("b", {"item_scraped_count": 1}))
    assert samples(families["scrapy_item_scraped"]) == {
        (("spider", "a"),): 7.0,
        (("spider", "b"),): 1.0,
    }
    assert families["scrapy_item_scraped"].type == "counter"
    assert 'scrapy_item_scraped_total{spider="a"} 7.0' in text
    statuses = samples(families["scrapy_downloader_response_status"])
    assert statuses[(("spider", "a"), ("status", "404"))] == 1.0
    assert families["scrapy_memusage_max_bytes"].type == "gauge"
    start = samples(families["scrapy_start_time_seconds"])
    assert start[(("spider", "a"),)] == STATS["start_time"].timestamp()
    assert "finish_reason" not in text
    for family in families.values():
        if family.name.startswith("scrapy_") and not family.name.startswith("scrapy_webservice"):
            for sample in family.samples:
                assert "spider" in sample.labels, sample


def test_engine_status_is_read_live():
    busy = crawl("a", {})
    busy.engine._slot.inprogress.update({Request("http://x/1"), Request("http://x/2")})
    busy.engine.paused = True
    families, _ = scrape(busy)
    assert samples(families["scrapy_engine_in_flight_requests"]) == {(("spider", "a"),): 2.0}
    assert samples(families["scrapy_engine_scheduler_pending_requests"]) == {
        (("spider", "a"),): 3.0
    }
    assert samples(families["scrapy_engine_downloader_active_requests"]) == {
        (("spider", "a"),): 2.0
    }
    assert samples(families["scrapy_engine_paused"]) == {(("spider", "a"),): 1.0}
    states = samples(families["scrapy_engine_state"])
    assert states[(("spider", "a"), ("state", "pausing"))] == 1.0
    assert states[(("spider", "a"), ("state", "running"))] == 0.0
    busy.engine._slot.inprogress.clear()
    families, _ = scrape(busy)  # nothing cached between scrapes
    assert samples(families["scrapy_engine_state"])[(("spider", "a"), ("state", "paused"))] == 1.0


def test_clashing_stat_names_keep_the_first_and_never_break_the_scrape(caplog):
    caplog.set_level(logging.DEBUG, "scrapy_webservice_prometheus")
    odd = {
        "custom/value": 1,  # scrapy_custom_value
        "custom_value": 2,  # the same name: left out
        "engine/paused": 5,  # would clash with the engine's own gauge
        "log_count": 3,  # a gauge named like nothing else
        "a/b": 4,  # gauge scrapy_a_b
        "a/b_count": 1,  # counter scrapy_a_b, after "a/b" in key order: left out
    }
    families, _text = scrape(crawl("a", odd))
    assert samples(families["scrapy_custom_value"]) == {(("spider", "a"),): 1.0}
    assert samples(families["scrapy_engine_paused"]) == {(("spider", "a"),): 0.0}
    assert families["scrapy_a_b"].type == "gauge"
    assert samples(families["scrapy_a_b"]) == {(("spider", "a"),): 4.0}
    assert "stat 'custom_value' left out" in caplog.text
    assert "stat 'a/b_count' left out" in caplog.text


def test_a_failing_crawl_does_not_cost_the_others(caplog):
    broken = crawl("broken", {})
    broken.stats = None
    families, _ = scrape(broken, crawl("ok", {"item_scraped_count": 1}))
    assert samples(families["scrapy_item_scraped"]) == {(("spider", "ok"),): 1.0}
    assert "collecting the metrics of broken failed" in caplog.text


def test_service_metrics_have_no_spider_label():
    families, _ = scrape(started_at=1.0)
    assert samples(families["scrapy_webservice_info"]) == {(("version", "0.1.0"),): 1.0}
    [uptime] = families["scrapy_webservice_uptime_seconds"].samples
    assert uptime.labels == {}
    assert uptime.value > 0
