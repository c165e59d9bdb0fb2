"""A ``prometheus_client`` collector that reads the live crawls at scrape time.

Nothing runs between scrapes: each ``collect()`` reads the stats, engine
and rates of the service's running crawlers and builds the metric
families from them. It runs on the reactor thread (inside the request),
and only copies small dicts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from scrapy_webservice.monitor import COUNTERS as RATE_COUNTERS
from scrapy_webservice.monitor import crawl_state, in_flight_requests

from .names import metric_for, metric_value

__all__ = ["STATES", "ScrapyCollector"]

logger = logging.getLogger(__name__)

#: Every state ``scrapy_engine_state`` has a series for (1 for the current one).
STATES = ("running", "pausing", "paused", "closing")
WINDOWS = ("last_minute", "since_start")


class _Families:
    """Metric families by name; the first type and labels a name gets are kept."""

    def __init__(self) -> None:
        self.families: dict[str, Metric] = {}
        self.labels: dict[str, tuple[str, ...]] = {}
        self.seen: set[tuple[str, tuple[str, ...]]] = set()
        self.clashes: set[str] = set()

    def add(
        self,
        name: str,
        kind: str,
        documentation: str,
        labels: dict[str, str],
        value: float,
        source: str = "",
    ) -> None:
        names = tuple(labels)
        family = self.families.get(name)
        if family is None:
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            family = cls(name, documentation, labels=names)
            self.families[name] = family
            self.labels[name] = names
        elif family.type != kind or self.labels[name] != names:
            self._clash(name, source)
            return
        values = tuple(labels.values())
        if (name, values) in self.seen:
            self._clash(name, source)
            return
        self.seen.add((name, values))
        family.add_metric(list(values), value)

    def _clash(self, name: str, source: str) -> None:
        # Two stat keys that map to one name (``a/b`` and ``a_b``): the first
        # in key order is exposed, the other is left out, said once in the log.
        if source not in self.clashes:
            self.clashes.add(source)
            logger.debug("Prometheus: stat %r left out: its name %s is taken", source, name)


class ScrapyCollector(Collector):
    """The metrics of every running crawl of a ``scrapy_webservice`` service."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        for crawler in self.service.running_crawlers():
            spider = crawler.engine.spider.name
            try:
                self._engine(families, crawler, spider)
                self._rates(families, crawler, spider)
                self._stats(families, crawler.stats.get_stats(), spider)
            except Exception:
                # One odd crawl must not cost the scrape of the others.
                logger.exception("Prometheus: collecting the metrics of %s failed", spider)
        yield from families.families.values()
        yield from self._service_metrics()

    def _engine(self, families: _Families, crawler: Any, spider: str) -> None:
        engine = crawler.engine
        label = {"spider": spider}
        add = families.add
        add(
            "scrapy_engine_in_flight_requests",
            "gauge",
            "Requests taken off the scheduler and not yet fully processed",
            label,
            len(in_flight_requests(engine)),
        )
        add(
            "scrapy_engine_downloader_active_requests",
            "gauge",
            "Requests in the downloader",
            label,
            len(getattr(engine.downloader, "active", ())),
        )
        scheduler = getattr(getattr(engine, "_slot", None), "scheduler", None)
        if scheduler is not None and hasattr(scheduler, "__len__"):
            add(
                "scrapy_engine_scheduler_pending_requests",
                "gauge",
                "Requests waiting in the scheduler",
                label,
                len(scheduler),
            )
        add("scrapy_engine_paused", "gauge", "1 if the engine is paused", label, engine.paused)
        state = crawl_state(engine)
        for name in STATES:
            add(
                "scrapy_engine_state",
                "gauge",
                "1 for the crawl's state: running, pausing, paused or closing",
                {"spider": spider, "state": name},
                1.0 if name == state else 0.0,
            )

    def _rates(self, families: _Families, crawler: Any, spider: str) -> None:
        monitor = self.service.monitors.get(crawler)
        if monitor is None:
            return
        rates = monitor.rates()
        for counter in RATE_COUNTERS:
            for window in WINDOWS:
                families.add(
                    f"scrapy_{counter}_per_minute",
                    "gauge",
                    f"{counter.capitalize()} per minute, over the window",
                    {"spider": spider, "window": window},
                    rates[window][f"{counter}_per_minute"],
                )

    def _stats(self, families: _Families, stats: dict[str, Any], spider: str) -> None:
        for key in sorted(stats):
            value = stats[key]
            metric = metric_for(key, value)
            if metric is None:
                continue  # text and other values: in the stats resource, not here
            labels = {"spider": spider}
            if metric.label is not None:
                labels[metric.label[0]] = metric.label[1]
            families.add(
                metric.name,
                metric.type,
                metric.documentation,
                labels,
                metric_value(value),
                source=key,
            )

    def _service_metrics(self) -> Iterator[Metric]:
        from scrapy_webservice import __version__

        info = InfoMetricFamily("scrapy_webservice", "The web service of this process")
        info.add_metric([], {"version": __version__})
        yield info
        started = getattr(self.service, "started_at", None)
        if started is not None:
            yield GaugeMetricFamily(
                "scrapy_webservice_uptime_seconds",
                "Seconds since the web service started listening",
                value=max(0.0, time.time() - started),
            )
