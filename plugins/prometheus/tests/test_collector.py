"""The collector reads live objects at scrape time; its output parses as Prometheus text.

The crawls here are stand-ins of the public API's ``Crawl`` (stats
collector real, the rest set by each test); a real crawl is in
test_prometheus_server.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from types import SimpleNamespace

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from scrapy_webservice_prometheus.collector import ScrapyCollector

RATES = {
    window: {"seconds": 1.0, "pages_per_minute": 6.0, "items_per_minute": 3.0}
    for window in ("last_minute", "since_start")
}


class Crawl:
    """A stand-in of the API's ``Crawl``: the stats collector is real, the rest is set here."""

    def __init__(self, name: str, stats: MemoryStatsCollector) -> None:
        self.spider_name = name
        self.id = f"{name}~{id(self)}"
        self.stats_collector = stats
        self.in_flight = 0
        self.downloading = 2
        self.scheduled: int | None = 3
        self.paused = False
        self.state = "running"
        self.finish_reason: str | None = None
        self.job: str | None = None

    def stats(self) -> dict:
        return dict(self.stats_collector.get_stats())

    def rates(self) -> dict:
        return RATES


def crawl(name: str, stats: dict) -> Crawl:
    collector = MemoryStatsCollector(SimpleNamespace(settings=Settings()))
    collector.set_stats(dict(stats))
    return Crawl(name, collector)


def by_label(crawls) -> dict:
    """As the API labels crawls: by spider name, by crawl id where names repeat."""
    names = [c.spider_name for c in crawls]
    return {(c.spider_name if names.count(c.spider_name) == 1 else c.id): c for c in crawls}


#: ``api.load()`` and ``api.stalls()`` of a service with the bound and the watchdog off.
NO_LOAD = {"connections": 0}
NO_STALLS = {"threshold": None, "count": 0, "max_seconds": 0.0, "recent": [], "lag": None}


def scrape(*crawls, uptime=None, lingering=False, load=NO_LOAD, stalls=NO_STALLS) -> dict:
    def crawls_by_label(finished=False):
        return by_label([c for c in crawls if finished or c.state != "closed"])

    api = SimpleNamespace(
        crawls_by_label=crawls_by_label,
        version="0.1.0",
        uptime=uptime,
        lingering=lingering,
        load=lambda: load,
        stalls=lambda limit=20: stalls,
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapyCollector(api))
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


def test_two_crawls_of_one_spider_each_have_their_series():
    first, second = crawl("a", {"item_scraped_count": 1}), crawl("a", {"item_scraped_count": 2})
    families, _ = scrape(first, second)
    assert samples(families["scrapy_item_scraped"]) == {
        (("spider", first.id),): 1.0,
        (("spider", second.id),): 2.0,
    }


def test_engine_status_is_read_live():
    busy = crawl("a", {})
    busy.in_flight, busy.paused, busy.state = 2, True, "pausing"
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
    busy.in_flight, busy.state = 0, "paused"
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
    broken.stats_collector = None
    families, _ = scrape(broken, crawl("ok", {"item_scraped_count": 1}))
    assert samples(families["scrapy_item_scraped"]) == {(("spider", "ok"),): 1.0}
    assert "collecting the metrics of broken failed" in caplog.text


def test_service_metrics_have_no_spider_label():
    families, _ = scrape(uptime=2.5)
    assert samples(families["scrapy_webservice_info"]) == {(("version", "0.1.0"),): 1.0}
    [uptime] = families["scrapy_webservice_uptime_seconds"].samples
    assert uptime.labels == {}
    assert uptime.value == 2.5


def test_rates_by_window():
    families, _ = scrape(crawl("a", {}))
    pages = samples(families["scrapy_pages_per_minute"])
    assert pages[(("spider", "a"), ("window", "last_minute"))] == 6.0
    assert pages[(("spider", "a"), ("window", "since_start"))] == 6.0


def test_unknown_scheduler_size_is_left_out():
    quiet = crawl("a", {})
    quiet.scheduled = None
    families, _ = scrape(quiet)
    assert "scrapy_engine_scheduler_pending_requests" not in families


def test_a_crawl_that_ended_while_lingering_says_how():
    ended = crawl("demo", STATS)
    ended.state, ended.finish_reason = "closed", "shutdown"
    families, _ = scrape(ended, crawl("other", STATS), lingering=True)
    assert samples(families["scrapy_finish_reason_info"]) == {
        (("reason", "shutdown"), ("spider", "demo")): 1.0
    }
    states = samples(families["scrapy_engine_state"])
    assert states[(("spider", "demo"), ("state", "closed"))] == 1.0
    assert states[(("spider", "demo"), ("state", "running"))] == 0.0
    assert states[(("spider", "other"), ("state", "running"))] == 1.0
    assert states[(("spider", "other"), ("state", "closed"))] == 0.0
    # Its last stats are still there; no live gauges of an engine that is gone.
    assert samples(families["scrapy_item_scraped"])[(("spider", "demo"),)] == 7
    in_flight = samples(families["scrapy_engine_in_flight_requests"])
    assert set(in_flight) == {(("spider", "other"),)}
    assert samples(families["scrapy_webservice_lingering"]) == {(): 1.0}


def test_one_info_series_per_crawl_names_its_id_and_scrapyd_job():
    one, two = crawl("demo", STATS), crawl("other", STATS)
    one.job = "6487ec79947edab326d6db28a2d86511e8247444"
    families, _ = scrape(one, two)
    assert samples(families["scrapy_crawl_info"]) == {
        (("crawl_id", one.id), ("job", one.job), ("spider", "demo")): 1.0,
        (("crawl_id", two.id), ("job", ""), ("spider", "other")): 1.0,
    }
    # The job is on that series only, not a label of every series.
    for family in families.values():
        if family.name != "scrapy_crawl_info":
            assert all("job" not in s.labels for s in family.samples), family.name


def test_the_services_share_of_the_reactor_and_what_it_refused():
    load = {
        "max_share": 0.1,
        "busy_seconds": 1.25,
        "paused_seconds": 0.5,
        "pauses": 3,
        "paused": True,
        "refused": {"connections": 2, "unauthorized": 40},
        "connections": 5,
    }
    families, _ = scrape(load=load)
    assert samples(families["scrapy_webservice_reactor_max_share"]) == {(): 0.1}
    assert samples(families["scrapy_webservice_reactor_busy_seconds"]) == {(): 1.25}
    assert samples(families["scrapy_webservice_reactor_paused_seconds"]) == {(): 0.5}
    assert samples(families["scrapy_webservice_reactor_pauses"]) == {(): 3}
    assert samples(families["scrapy_webservice_reactor_paused"]) == {(): 1.0}
    assert samples(families["scrapy_webservice_refused"]) == {
        (("reason", "connections"),): 2,
        (("reason", "unauthorized"),): 40,
    }
    assert samples(families["scrapy_webservice_open_connections"]) == {(): 5}
    assert families["scrapy_webservice_reactor_busy_seconds"].type == "counter"


def test_without_a_bound_only_the_connections_are_shown():
    families, _ = scrape(load={"connections": 1})
    assert samples(families["scrapy_webservice_open_connections"]) == {(): 1}
    assert not {name for name in families if name.startswith("scrapy_webservice_reactor_")}


def test_the_reactors_lag_is_a_histogram():
    lag = {"buckets": [[0.005, 90], [0.5, 99], [1.0, 99], ["+Inf", 100]], "count": 100, "sum": 2.5}
    stalls = {**NO_STALLS, "threshold": 0.5, "count": 1, "lag": lag}
    families, text = scrape(stalls=stalls)
    histogram = families["scrapy_webservice_reactor_lag_seconds"]
    assert histogram.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in histogram.samples if s.name.endswith("_bucket")}
    assert buckets == {"0.005": 90, "0.5": 99, "1.0": 99, "+Inf": 100}
    assert "scrapy_webservice_reactor_lag_seconds_count 100.0" in text
    assert "scrapy_webservice_reactor_lag_seconds_sum 2.5" in text
    assert samples(families["scrapy_webservice_stall_threshold_seconds"]) == {(): 0.5}


def test_with_the_watchdog_off_there_is_no_lag():
    families, _ = scrape()
    assert "scrapy_webservice_reactor_lag_seconds" not in families
    assert "scrapy_webservice_stall_threshold_seconds" not in families
