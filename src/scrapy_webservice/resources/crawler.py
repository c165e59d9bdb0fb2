"""``crawler``: stop, pause and resume spiders; list running and known spiders."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.utils.defer import deferred_from_coro

from ..monitor import in_flight_requests, resume
from ..resource import JsonRpcResource, control, readonly

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from ..service import Service

__all__ = ["CrawlerFacade", "CrawlerResource", "EngineFacade", "SpidersFacade"]

logger = logging.getLogger(__name__)

CLOSE_REASON = "closed_by_webservice"


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class EngineFacade:
    """``crawler/engine``: the engines of the running crawlers, addressed by spider name."""

    def __init__(self, service: Service) -> None:
        self._service = service

    @property
    def open_spiders(self) -> list[str]:
        """Names of the spiders running now."""
        return self._service.spider_names()

    @control
    def close_spider(self, spider: str, reason: str = CLOSE_REASON) -> dict[str, Any]:
        """Stop a running spider; its crawl ends with ``finish_reason`` = ``reason``.

        The answer comes at once: closing is scheduled on the reactor, never
        awaited inside the request.
        """
        crawler = self._service.crawler_for(spider)
        from twisted.internet import reactor

        reactor.callLater(0, _close, crawler, reason)
        return {"spider": spider, "closing": True, "reason": reason}

    @control
    def pause(self, spider: str) -> dict[str, Any]:
        """Stop a spider from taking new requests; answers at once with what is in flight.

        The state is ``pausing`` while requests already sent are still being
        downloaded and processed, and ``paused`` once none are (read it with
        ``state``, or watch ``/events``). Other spiders of the process go on.
        """
        crawler = self._service.crawler_for(spider)
        crawler.engine.pause()
        return self._state_answer(crawler, urls=True)

    @control
    def unpause(self, spider: str) -> dict[str, Any]:
        """Let a paused spider fetch again, at once rather than at its next heartbeat."""
        crawler = self._service.crawler_for(spider)
        resume(crawler.engine)
        return self._state_answer(crawler)

    @readonly
    def state(self, spider: str) -> dict[str, Any]:
        """``running``, ``pausing``, ``paused`` or ``closing``, and the requests in flight."""
        return self._state_answer(self._service.crawler_for(spider), urls=True)

    @readonly
    def is_paused(self, spider: str) -> bool:
        """Whether the engine of ``spider`` is paused (``pausing`` or ``paused``)."""
        return bool(self._service.crawler_for(spider).engine.paused)

    def _state_answer(self, crawler: Crawler, urls: bool = False) -> dict[str, Any]:
        monitor = self._service.monitor_for(crawler)
        answer: dict[str, Any] = {
            "spider": monitor.spider_name,
            "state": monitor.check_state(),
            "paused": bool(crawler.engine.paused),
            "in_flight": len(in_flight_requests(crawler.engine)),
        }
        if urls:
            answer["in_flight_urls"] = monitor.in_flight_urls()
        return answer


def _close(crawler: Crawler, reason: str) -> None:
    engine = crawler.engine
    if engine.spider is None:
        return
    close_async = getattr(engine, "close_spider_async", None)
    if close_async is not None:
        d = deferred_from_coro(close_async(reason=reason))
    else:  # Scrapy < 2.14
        d = engine.close_spider(engine.spider, reason)
    d.addErrback(
        lambda failure: logger.error(
            "Closing spider %s failed: %s", crawler.spider.name, failure.getErrorMessage()
        )
    )


class SpidersFacade:
    """``crawler/spiders``: the spiders the project's spider loader knows."""

    def __init__(self, service: Service, crawler: Crawler) -> None:
        self._service = service
        self._crawler = crawler
        self._names: list[str] | None = None

    @readonly
    def list(self) -> list[str]:
        """Names of every spider of the project, running or not."""
        if self._names is None:
            self._names = sorted(_spider_loader(self._crawler).list())
        return list(self._names)


def _spider_loader(crawler: Crawler) -> Any:
    try:
        from scrapy.spiderloader import get_spider_loader
    except ImportError:  # Scrapy < 2.13
        from scrapy.spiderloader import SpiderLoader

        return SpiderLoader.from_settings(crawler.settings.frozencopy())
    return get_spider_loader(crawler.settings)


class CrawlerFacade:
    """``crawler``: the seed's crawler resource, over every crawler of the process."""

    def __init__(self, service: Service, crawler: Crawler) -> None:
        self.engine = EngineFacade(service)
        self.spiders = SpidersFacade(service, crawler)
        self._service = service

    @property
    def extensions(self) -> dict[str, list[str]]:
        """The enabled extensions of each running crawler, by spider name."""
        return {
            c.engine.spider.name: [_class_path(ext) for ext in c.extensions.middlewares]
            for c in self._service.running_crawlers()
        }


class CrawlerResource(JsonRpcResource):
    """``crawler``, ``crawler/engine``, ``crawler/spiders``, ``crawler/extensions``."""

    ws_name = "crawler"
    exposed = frozenset({"engine", "spiders", "extensions"})

    def __init__(self, crawler: Crawler, target: Any = None) -> None:
        super().__init__(crawler, target)
        self._facade: CrawlerFacade | None = None

    def get_target(self) -> CrawlerFacade:
        if self._facade is None:
            assert self.service is not None, "mounted resources have a service"
            self._facade = CrawlerFacade(self.service, self.crawler)
        return self._facade
