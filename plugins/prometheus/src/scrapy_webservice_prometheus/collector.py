"""A ``prometheus_client`` collector that reads the live crawls at scrape time.

Nothing runs between scrapes: each ``collect()`` reads the stats, state
and rates of the service's running crawls, through the web service's
public API only, and builds the metric families from them. It runs on the
reactor thread (inside the request), and only copies small dicts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .names import metric_for, metric_value

__all__ = ["STATES", "ScrapyCollector"]

logger = logging.getLogger(__name__)

#: Every state ``scrapy_engine_state`` has a series for (1 for the current one).
STATES = ("running", "pausing", "paused", "closing", "closed")
WINDOWS = ("last_minute", "since_start")
RATE_SUFFIX = "_per_minute"


class _Families:
    """Metric families by name; the first type and labels a name gets are kept."""

    def __init__(self) -> None:
        self.families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
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
    """The metrics of every running crawl of a ``scrapy_webservice`` service.

    ``api`` is the service's :class:`scrapy_webservice.WebServiceAPI`.
    """

    def __init__(self, api: Any) -> None:
        self.api = api

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        # The spider's name, or its crawl id where two crawls run one spider:
        # each crawl gets series of its own.
        # With the crawls that ended while the service lingers: a scrape sees
        # how they ended (their last stats, state closed, finish reason).
        for spider, crawl in self.api.crawls_by_label(finished=True).items():
            try:
                self._info(families, crawl, spider)
                if crawl.state == "closed":
                    self._ended(families, crawl, spider)
                else:
                    self._engine(families, crawl, spider)
                    self._rates(families, crawl, spider)
                self._stats(families, crawl.stats(), spider)
            except Exception:
                # One odd crawl must not cost the scrape of the others.
                logger.exception("Prometheus: collecting the metrics of %s failed", spider)
        yield from families.families.values()
        yield from self._service_metrics()

    def _engine(self, families: _Families, crawl: Any, spider: str) -> None:
        label = {"spider": spider}
        add = families.add
        add(
            "scrapy_engine_in_flight_requests",
            "gauge",
            "Requests taken off the scheduler and not yet fully processed",
            label,
            crawl.in_flight,
        )
        add(
            "scrapy_engine_downloader_active_requests",
            "gauge",
            "Requests in the downloader",
            label,
            crawl.downloading,
        )
        scheduled = crawl.scheduled
        if scheduled is not None:
            add(
                "scrapy_engine_scheduler_pending_requests",
                "gauge",
                "Requests waiting in the scheduler",
                label,
                scheduled,
            )
        add("scrapy_engine_paused", "gauge", "1 if the engine is paused", label, crawl.paused)
        state = crawl.state
        for name in STATES:
            add(
                "scrapy_engine_state",
                "gauge",
                "1 for the crawl's state: running, pausing, paused, closing or closed",
                {"spider": spider, "state": name},
                1.0 if name == state else 0.0,
            )

    def _info(self, families: _Families, crawl: Any, spider: str) -> None:
        # One series per crawl with what identifies it: not a label on every series.
        families.add(
            "scrapy_crawl_info",
            "gauge",
            "1, labelled with the crawl's id and its scrapyd job id (empty without scrapyd)",
            {"spider": spider, "crawl_id": crawl.id, "job": crawl.job or ""},
            1.0,
        )

    def _ended(self, families: _Families, crawl: Any, spider: str) -> None:
        for name in STATES:
            families.add(
                "scrapy_engine_state",
                "gauge",
                "1 for the crawl's state: running, pausing, paused, closing or closed",
                {"spider": spider, "state": name},
                1.0 if name == "closed" else 0.0,
            )
        families.add(
            "scrapy_finish_reason_info",
            "gauge",
            "1, labelled with why the spider closed (finished, closed_by_webservice...)",
            {"spider": spider, "reason": crawl.finish_reason or "unknown"},
            1.0,
        )

    def _rates(self, families: _Families, crawl: Any, spider: str) -> None:
        rates = crawl.rates()
        for window in WINDOWS:
            for key, value in rates[window].items():
                if not key.endswith(RATE_SUFFIX):
                    continue
                counter = key[: -len(RATE_SUFFIX)]
                families.add(
                    f"scrapy_{counter}_per_minute",
                    "gauge",
                    f"{counter.capitalize()} per minute, over the window",
                    {"spider": spider, "window": window},
                    value,
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
        info = InfoMetricFamily("scrapy_webservice", "The web service of this process")
        info.add_metric([], {"version": self.api.version})
        yield info
        yield GaugeMetricFamily(
            "scrapy_webservice_lingering",
            "1 after the last crawl ended, while WEBSERVICE_LINGER keeps the service up",
            value=1.0 if getattr(self.api, "lingering", False) else 0.0,
        )
        uptime = self.api.uptime
        if uptime is not None:
            yield GaugeMetricFamily(
                "scrapy_webservice_uptime_seconds",
                "Seconds since the web service started listening",
                value=uptime,
            )
        yield from self._load_metrics(self.api.load())
        yield from self._lag_metrics(self.api.stalls(0))

    def _load_metrics(self, load: dict[str, Any]) -> Iterator[Metric]:
        """What the service cost the reactor and refused (``WEBSERVICE_MAX_SHARE``)."""
        yield GaugeMetricFamily(
            "scrapy_webservice_open_connections",
            "Connections open to the web service now",
            value=load.get("connections", 0),
        )
        if "busy_seconds" not in load:
            return
        if load.get("max_share") is not None:
            yield GaugeMetricFamily(
                "scrapy_webservice_reactor_max_share",
                "Most of the reactor's time the service may take (WEBSERVICE_MAX_SHARE)",
                value=load["max_share"],
            )
        yield CounterMetricFamily(
            "scrapy_webservice_reactor_busy_seconds",
            "Seconds of the reactor's time the web service's own work took",
            value=load["busy_seconds"],
        )
        yield CounterMetricFamily(
            "scrapy_webservice_reactor_paused_seconds",
            "Seconds the service held its readers, its share of the reactor spent",
            value=load["paused_seconds"],
        )
        yield CounterMetricFamily(
            "scrapy_webservice_reactor_pauses",
            "Times the service held its readers, its share of the reactor spent",
            value=load["pauses"],
        )
        yield GaugeMetricFamily(
            "scrapy_webservice_reactor_paused",
            "1 while the service holds its readers for its budget to refill",
            value=1.0 if load.get("paused") else 0.0,
        )
        refused = CounterMetricFamily(
            "scrapy_webservice_refused",
            "Requests and connections the service refused, by reason",
            labels=["reason"],
        )
        for reason, count in sorted(load.get("refused", {}).items()):
            refused.add_metric([reason], count)
        yield refused

    def _lag_metrics(self, stalls: dict[str, Any]) -> Iterator[Metric]:
        """The reactor's lag, as the stall watchdog's heartbeat saw it."""
        lag = stalls.get("lag")
        if lag is None:
            return  # WEBSERVICE_STALL_THRESHOLD = None: no heartbeat, nothing measured
        yield GaugeMetricFamily(
            "scrapy_webservice_stall_threshold_seconds",
            "Seconds the reactor may go without running before a stall is reported",
            value=stalls["threshold"],
        )
        histogram = HistogramMetricFamily(
            "scrapy_webservice_reactor_lag_seconds",
            "How late the reactor ran the stall watchdog's heartbeat",
            buckets=[(_bound(bound), count) for bound, count in lag["buckets"]],
            sum_value=lag["sum"],
        )
        yield histogram


def _bound(bound: float | str) -> str:
    """A bucket's upper bound as Prometheus writes it: ``0.005``, ``1.0``, ``+Inf``."""
    return bound if isinstance(bound, str) else floatToGoString(bound)
