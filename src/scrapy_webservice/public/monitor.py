"""Live rates and the honest pause state of each running crawl.

Stats are cumulative counters; an operator wants *rates* ("how many pages
a minute, now?"). A :class:`CrawlMonitor` samples a crawler's stats on the
reactor every ``WEBSERVICE_RATES_INTERVAL`` seconds, keeps one minute of
samples, and derives rates from the first and last sample of a window, so
every rate can be checked against the counts it came from.

The pause state is derived, never stored: Scrapy's ``engine.pause()`` only
stops new requests from leaving the scheduler, so a paused engine is
``pausing`` while requests are still in flight and ``paused`` once none
are. Deriving it from the engine means a pause made elsewhere (the telnet
console, another extension) reads right too.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from ..adapter.internals import crawl_state, in_flight_requests
from ..adapter.loop import Clock, crawl_clock
from .repeating import Repeating
from .settings import WINDOW_SECONDS

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.internet.interfaces import IReactorTime

__all__ = ["COUNTERS", "WINDOW", "CrawlMonitor", "Sample"]

logger = logging.getLogger(__name__)

#: Seconds of history behind the ``last_minute`` rates.
WINDOW = WINDOW_SECONDS
#: How often a ``pausing`` crawl is checked for having become ``paused``.
PAUSING_POLL = 0.1
#: The counters rates are computed for, and the Scrapy stats they come from.
#: ``errors`` counts ERROR log records: Scrapy logs one for every failed
#: download (after its retries) and every spider exception.
COUNTERS: dict[str, str] = {
    "pages": "response_received_count",
    "items": "item_scraped_count",
    "errors": "log_count/ERROR",
    "retries": "retry/count",
}
STATUS_PREFIX = "downloader/response_status_count/"

Publish = Callable[..., Any]


@dataclass(frozen=True)
class Sample:
    """The counters of one crawl at one moment (``time`` on the reactor's clock)."""

    time: float
    counts: dict[str, int]
    statuses: dict[str, int]

    @classmethod
    def of(cls, stats: dict[str, Any], time: float) -> Sample:
        counts = {name: _int(stats.get(key)) for name, key in COUNTERS.items()}
        statuses = {
            key[len(STATUS_PREFIX) :]: _int(value)
            for key, value in stats.items()
            if key.startswith(STATUS_PREFIX)
        }
        return cls(time, counts, statuses)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def per_minute(first: Sample, last: Sample) -> dict[str, float]:
    """Each counter's rate per minute between two samples (0 over no time)."""
    seconds = last.time - first.time
    rates: dict[str, float] = {"seconds": round(seconds, 3)}
    for name in COUNTERS:
        delta = last.counts[name] - first.counts[name]
        rates[f"{name}_per_minute"] = round(delta * 60 / seconds, 3) if seconds > 0 else 0.0
    return rates


class CrawlMonitor:
    """Samples one crawler's stats and publishes its rates and state changes.

    ``publish(name, **data)`` is the service's event bus; the monitor sends
    ``rates`` after each sample and ``spider_pausing`` / ``spider_paused`` /
    ``spider_resumed`` when the derived state changes.
    """

    def __init__(
        self,
        crawler: Crawler,
        interval: float,
        publish: Publish,
        clock: IReactorTime | None = None,
        crawl_id: str | None = None,
        job: str | None = None,
    ) -> None:
        self.crawler = crawler
        self.interval = interval
        self.publish = publish
        # The reactor, or asyncio's loop (a test's twisted.internet.task.Clock too).
        self.clock: IReactorTime = (
            clock if clock is not None else cast("IReactorTime", crawl_clock())
        )
        self.spider_name = crawler.spider.name if crawler.spider else "?"
        #: Every event and rates answer names the crawl by both.
        self.names: dict[str, str] = {"spider": self.spider_name}
        if crawl_id is not None:
            self.names["crawl_id"] = crawl_id
        if job is not None:  # started by scrapyd: its job id too
            self.names["job"] = job
        # One window of samples, plus the one that starts it.
        self.samples: deque[Sample] = deque(maxlen=math.ceil(WINDOW / interval) + 2)
        self.first: Sample | None = None
        self.state = "running"
        self._sampler = Repeating(self.tick, cast("Clock", self.clock))
        self._pausing = Repeating(self.check_state, cast("Clock", self.clock))

    def start(self) -> None:
        self.first = self.sample()
        self.state = crawl_state(self.crawler.engine)
        self._sampler.start(self.interval, now=False)

    def stop(self) -> None:
        for call in (self._sampler, self._pausing):
            if call.running:
                call.stop()

    def sample(self) -> Sample:
        sample = Sample.of(self.crawler.stats.get_stats(), self.clock.seconds())
        self.samples.append(sample)
        return sample

    def tick(self) -> None:
        """Take a sample, publish the rates, and notice a pause made elsewhere."""
        try:
            self.sample()
            self.check_state()
            self.publish("rates", **self.rates())
        except Exception:
            # A monitor must never break the crawl's reactor loop.
            logger.exception("Web service: sampling the stats of %s failed", self.spider_name)

    def elapsed(self) -> float:
        """Seconds since the monitor started, now."""
        assert self.first is not None, "elapsed() before start()"
        return round(self.clock.seconds() - self.first.time, 3)

    # -- rates -------------------------------------------------------------------

    def rates(self) -> dict[str, Any]:
        """Rates over the last minute and since the start, with the counts they come from.

        ``pages``, ``items``, ``errors``, ``retries`` and ``status_counts`` are
        the stats at the last sample (``age`` seconds ago); ``state`` and
        ``in_flight`` are read now.
        """
        assert self.first is not None, "rates() before start()"
        last = self.samples[-1]
        window_start = next(s for s in self.samples if last.time - s.time <= WINDOW + 1e-9)
        engine = self.crawler.engine
        return {
            **self.names,
            "state": crawl_state(engine),
            "in_flight": len(in_flight_requests(engine)),
            "age": round(self.clock.seconds() - last.time, 3),
            "elapsed": round(last.time - self.first.time, 3),
            **last.counts,
            "status_counts": dict(sorted(last.statuses.items())),
            "last_minute": per_minute(window_start, last),
            "since_start": per_minute(self.first, last),
        }

    # -- pause state -----------------------------------------------------------------

    def check_state(self) -> str:
        """Publish a change of the derived state; poll quickly while ``pausing``."""
        engine = self.crawler.engine
        state = crawl_state(engine)
        previous, self.state = self.state, state
        if state != previous:
            in_flight = len(in_flight_requests(engine))
            if state in ("pausing", "paused"):
                self.publish(f"spider_{state}", **self.names, in_flight=in_flight)
            elif state == "running":
                self.publish("spider_resumed", **self.names, in_flight=in_flight)
        if state == "pausing" and not self._pausing.running:
            self._pausing.start(PAUSING_POLL, now=False)
        elif state != "pausing" and self._pausing.running:
            self._pausing.stop()
        return state
