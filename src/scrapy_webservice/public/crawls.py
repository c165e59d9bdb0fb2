"""The running crawls of a process, each addressed by spider name or crawl id.

A :class:`Crawl` is what resources and plugins see of one running crawler:
its state, requests in flight and waiting, rates, stats, and the three
things an operator does to it (pause, resume, close). The
:class:`CrawlRegistry` keeps them for the service: which crawlers joined,
which are crawling now, and the monitor that samples each one's rates.

Two crawlers of one process may run the same spider; each crawl then has
its own id (``demo~1``, ``demo~2``) and a name that several crawls share
is an :class:`~scrapy_webservice.rpc.errors.AmbiguousSpider` error that lists
their ids, never a silent choice.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from scrapy import signals

from ..adapter import internals as adapter
from ..adapter.loop import crawl_clock
from ..rpc.errors import AmbiguousSpider, NoSuchSpider
from .monitor import CrawlMonitor
from .tuning import DownloaderTuning

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

    from .events import EventBus

__all__ = ["CLOSE_REASON", "Crawl", "CrawlRegistry"]

logger = logging.getLogger(__name__)

#: ``finish_reason`` of a spider closed through the web service.
CLOSE_REASON = "closed_by_webservice"
#: Between the spider name and the number in a crawl id (``demo~1``): a
#: character spider names do not use, and one URLs carry as it is.
ID_SEPARATOR = "~"
#: Longest spider name an error message repeats.
MAX_ECHOED = 100
#: At most this many in-flight URLs are listed in a pause answer.
MAX_LISTED_URLS = 20
#: Finished crawls kept for ``crawls_by_label(finished=True)`` (a lingering service's).
MAX_FINISHED = 100

#: Crawl ids stay unique for the whole process, across services.
_numbers: defaultdict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))


class Crawl:
    """One running crawl: read its state, or pause, resume and close it.

    Every property reads the live crawler when asked; nothing is cached
    except the rates, which the service samples every
    ``WEBSERVICE_RATES_INTERVAL`` seconds.
    """

    def __init__(self, crawler: Crawler, crawl_id: str, monitor: CrawlMonitor) -> None:
        self.crawler = crawler
        #: Unique in the process, even when two crawlers run one spider.
        self.id = crawl_id
        #: The spider's name (several crawls may share it).
        self.spider_name: str = monitor.spider_name
        self._monitor = monitor
        #: The downloader's slots, delays and concurrency, read and tuned.
        self.downloader = DownloaderTuning(crawler)
        #: The scrapyd job id when scrapyd started the crawl (``-a _job=...``), else ``None``.
        self.job = adapter.scrapyd_job(crawler)

    def __repr__(self) -> str:
        return f"<Crawl {self.id} {self.state}>"

    # -- reading -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the spider is still open (a crawl is running until it closed)."""
        return adapter.spider_of(self.crawler) is not None

    @property
    def state(self) -> str:
        """``running``, ``pausing``, ``paused``, ``closing`` or ``closed``."""
        return self._monitor.check_state() if self.running else "closed"

    @property
    def finish_reason(self) -> str | None:
        """Why the spider closed (``finished``, ``closed_by_webservice``...); ``None`` if open."""
        if self.running:
            return None
        reason = self.crawler.stats.get_value("finish_reason")
        return None if reason is None else str(reason)

    @property
    def paused(self) -> bool:
        """Whether the engine is paused (``pausing`` or ``paused``)."""
        engine = adapter.engine_of(self.crawler)
        return bool(engine is not None and engine.paused)

    @property
    def in_flight(self) -> int:
        """Requests taken off the scheduler and not yet fully processed."""
        return len(adapter.in_flight_requests(adapter.engine_of(self.crawler)))

    def in_flight_urls(self, limit: int = MAX_LISTED_URLS) -> list[str]:
        """URLs of the requests in flight, sorted, at most ``limit``."""
        requests = adapter.in_flight_requests(adapter.engine_of(self.crawler))
        return sorted(r.url for r in requests)[:limit]

    @property
    def scheduled(self) -> int | None:
        """Requests waiting in the scheduler; ``None`` if the scheduler cannot count them."""
        engine = adapter.engine_of(self.crawler)
        return None if engine is None else adapter.scheduler_size(engine)

    def queues(self) -> dict[str, int]:
        """Requests waiting by scheduler queue (``memory``, ``disk``); empty if it cannot tell."""
        engine = adapter.engine_of(self.crawler)
        return {} if engine is None else adapter.scheduler_queues(engine)

    @property
    def downloading(self) -> int:
        """Requests in the downloader now."""
        engine = adapter.engine_of(self.crawler)
        return 0 if engine is None else adapter.downloading(engine)

    @property
    def elapsed(self) -> float:
        """Seconds since the crawl started, on the reactor's clock."""
        return self._monitor.elapsed()

    def rates(self) -> dict[str, Any]:
        """Pages, items, errors and retries per minute, with the counts they come from.

        See ``stats.get_rates`` in the resources reference for every key.
        """
        return self._monitor.rates()

    def stats(self) -> dict[str, Any]:
        """A copy of the crawl's stats."""
        return dict(self.crawler.stats.get_stats())

    def engine_status(self) -> dict[str, Any]:
        """Scrapy's engine status report, plus this service's state, queue and rates."""
        engine = adapter.engine_of(self.crawler)
        status = adapter.engine_status(engine)
        status["engine.paused"] = bool(engine.paused)
        status["state"] = self.state
        status["in_flight"] = self.in_flight
        status["scheduled"] = self.scheduled
        status["crawl_id"] = self.id
        status["job"] = self.job
        status["rates"] = self.rates()
        return status

    def extensions(self) -> list[str]:
        """Dotted paths of the crawler's enabled extensions."""
        return [_class_path(ext) for ext in adapter.enabled_extensions(self.crawler)]

    def project_spiders(self) -> list[str]:
        """Every spider the crawl's project knows, running or not."""
        return adapter.project_spider_names(self.crawler)

    # -- steering ---------------------------------------------------------------

    def pause(self) -> str:
        """Stop taking requests off the scheduler; requests in flight still finish.

        Answers the state at once: ``pausing`` while requests are in flight,
        ``paused`` once none are (an event says when).
        """
        adapter.engine_of(self.crawler).pause()
        return self.state

    def resume(self) -> str:
        """Fetch again, at once rather than at the engine's next heartbeat."""
        adapter.resume(adapter.engine_of(self.crawler))
        return self.state

    def enqueue(self, requests: list[Request]) -> dict[str, int]:
        """Schedule requests for the spider, as if its callbacks had returned them.

        They go through the duplicates filter and the downloader middlewares,
        not the spider middlewares. A paused crawl keeps them until it
        resumes. Answers how many were scheduled and how many the duplicates
        filter dropped.
        """
        engine = adapter.engine_of(self.crawler)
        if engine is None or engine.spider is None:
            raise NoSuchSpider(f"{self.id} is not crawling")
        dropped: list[Request] = []

        def count(request: Request, spider: Any) -> None:
            dropped.append(request)

        self.crawler.signals.connect(count, signal=signals.request_dropped)
        try:
            for request in requests:
                engine.crawl(request)
        finally:
            self.crawler.signals.disconnect(count, signal=signals.request_dropped)
        ours = {id(request) for request in requests}
        duplicates = sum(1 for request in dropped if id(request) in ours)
        return {"scheduled": len(requests) - duplicates, "duplicates": duplicates}

    def close(self, reason: str = CLOSE_REASON) -> None:
        """Close the spider with ``finish_reason`` = ``reason``, soon.

        Scheduled on the reactor and never awaited: an answer to a request
        must not wait for the requests in flight to finish.
        """
        crawl_clock().callLater(0, adapter.close_spider, self.crawler, reason)


def _echo(name: str) -> str:
    """A client's string in an error message, clipped."""
    return repr(name if len(name) <= MAX_ECHOED else name[:MAX_ECHOED] + "...")


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class CrawlRegistry:
    """The crawlers that joined a service, and a :class:`Crawl` for each one crawling."""

    def __init__(self, events: EventBus, rates_interval: float) -> None:
        self.events = events
        self.rates_interval = rates_interval
        #: Crawlers that joined (engine started), in order; some may not crawl yet.
        self.crawlers: list[Crawler] = []
        self._crawls: dict[Crawler, Crawl] = {}
        self._monitors: dict[Crawler, CrawlMonitor] = {}
        #: Crawls that ended while the service went on (the newest last).
        self.finished: list[Crawl] = []
        #: The service's own figures (``webservice/...``), put in a crawl's stats as it closes.
        self.service_stats: Callable[[], dict[str, Any]] | None = None

    # -- membership ---------------------------------------------------------------

    def join(self, crawler: Crawler) -> None:
        if crawler not in self.crawlers:
            self.crawlers.append(crawler)

    def leave(self, crawler: Crawler) -> None:
        if crawler in self.crawlers:
            self.crawlers.remove(crawler)
        crawl = self._crawls.pop(crawler, None)
        if crawl is not None:
            self.finished = [*self.finished, crawl][-MAX_FINISHED:]
        monitor = self._monitors.pop(crawler, None)
        if monitor is not None:
            monitor.stop()
            crawler.signals.disconnect(self._spider_closed, signal=signals.spider_closed)

    def watch(self, crawler: Crawler) -> None:
        """Start sampling a crawler whose spider is open; publish ``spider_opened``."""
        if crawler in self._crawls or adapter.spider_of(crawler) is None:
            return
        name = adapter.spider_of(crawler).name
        crawl_id = f"{name}{ID_SEPARATOR}{next(_numbers[name])}"
        monitor = CrawlMonitor(
            crawler,
            self.rates_interval,
            self.events.publish,
            crawl_id=crawl_id,
            job=adapter.scrapyd_job(crawler),
        )
        crawl = Crawl(crawler, crawl_id, monitor)
        self._crawls[crawler] = crawl
        self._monitors[crawler] = monitor
        monitor.start()
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)
        self.events.publish("spider_opened", spider=crawl.spider_name, crawl_id=crawl.id)

    def watch_all(self) -> None:
        for crawler in self.crawlers:
            self.watch(crawler)

    def stop(self) -> None:
        """Stop every monitor (the service stops)."""
        for monitor in self._monitors.values():
            monitor.stop()
        self._monitors.clear()
        self._crawls.clear()
        self.finished = []

    def _spider_closed(self, spider: Any, reason: str) -> None:
        crawl = next((c for c in self._crawls.values() if c.crawler.spider is spider), None)
        data: dict[str, Any] = {"spider": spider.name, "reason": reason}
        if crawl is not None:
            data["crawl_id"] = crawl.id
            if self.service_stats is not None:
                try:
                    for key, value in self.service_stats().items():
                        crawl.crawler.stats.set_value(key, value)
                except Exception:
                    logger.exception("Web service: its figures were not put in the stats")
        self.events.publish("spider_closed", **data)

    # -- finding --------------------------------------------------------------------

    def running(self) -> list[Crawl]:
        """Crawls whose spider is open, in the order they started."""
        return [
            crawl
            for crawler in self.crawlers
            if (crawl := self._crawls.get(crawler)) is not None and crawl.running
        ]

    def find(self, spider: str) -> Crawl:
        """The running crawl with this crawl id, spider name or scrapyd job id; never a guess.

        A string that is the id of one crawl and the name of another, or the
        name of several, is an :class:`AmbiguousSpider` error that lists the ids.
        """
        if not isinstance(spider, str):
            raise NoSuchSpider("spider name must be a string")
        crawls = self.running()
        matches = [c for c in crawls if spider in (c.id, c.spider_name, c.job)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(crawl.id for crawl in matches)
            raise AmbiguousSpider(
                f"{len(matches)} running crawls answer to {_echo(spider)}:"
                f" name one by crawl id ({ids})"
            )
        running = ", ".join(sorted(crawl.spider_name for crawl in crawls)) or "none"
        raise NoSuchSpider(f"No running spider named {_echo(spider)} (running: {running})")

    def labels(self, finished: bool = False) -> dict[str, Crawl]:
        """Running crawls by spider name, or by crawl id where a name would not do.

        A name is used only when one crawl has it and no other crawl has it
        as its id, so every crawl gets a key of its own. With ``finished``,
        the crawls that ended while the service went on come too.
        """
        crawls = self.running() + (self.finished if finished else [])
        taken: dict[str, int] = defaultdict(int)
        for crawl in crawls:
            taken[crawl.spider_name] += 1
            taken[crawl.id] += 1
        return {
            (crawl.spider_name if taken[crawl.spider_name] == 1 else crawl.id): crawl
            for crawl in crawls
        }

    def for_crawler(self, crawler: Crawler) -> Crawl | None:
        return self._crawls.get(crawler)
