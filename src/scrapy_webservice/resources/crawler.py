"""``crawler``: stop, pause and resume spiders; list running and known spiders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import CLOSE_REASON, Crawl, JsonRpcResource, WebServiceAPI, control, data, readonly
from .crawlsettings import SettingsFacade
from .downloader import DownloaderFacade
from .scheduler import SchedulerFacade

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["CrawlerFacade", "CrawlerResource", "EngineFacade", "SpidersFacade"]


class EngineFacade:
    """``crawler/engine``: the engines of the running crawls, by spider name or crawl id."""

    def __init__(self, api: WebServiceAPI) -> None:
        self._api = api

    @data
    def open_spiders(self) -> list[str]:
        """Names of the spiders running now."""
        return self._api.spider_names()

    @control
    def close_spider(self, spider: str, reason: str = CLOSE_REASON) -> dict[str, Any]:
        """Stop a running spider; its crawl ends with ``finish_reason`` = ``reason``.

        The answer comes at once: closing is scheduled on the reactor, never
        awaited inside the request.
        """
        crawl = self._api.crawl(spider)
        crawl.close(reason)
        return {"spider": spider, "closing": True, "reason": reason}

    @control
    def pause(self, spider: str) -> dict[str, Any]:
        """Stop a spider from taking new requests; answers at once with what is in flight.

        The state is ``pausing`` while requests already sent are still being
        downloaded and processed, and ``paused`` once none are (read it with
        ``state``, or watch ``/events``). Other spiders of the process go on.
        """
        crawl = self._api.crawl(spider)
        crawl.pause()
        return _state_answer(crawl, urls=True)

    @control
    def unpause(self, spider: str) -> dict[str, Any]:
        """Let a paused spider fetch again, at once rather than at its next heartbeat."""
        crawl = self._api.crawl(spider)
        crawl.resume()
        return _state_answer(crawl)

    @readonly
    def state(self, spider: str) -> dict[str, Any]:
        """``running``, ``pausing``, ``paused`` or ``closing``, and the requests in flight."""
        return _state_answer(self._api.crawl(spider), urls=True)

    @readonly
    def is_paused(self, spider: str) -> bool:
        """Whether the engine of ``spider`` is paused (``pausing`` or ``paused``)."""
        return self._api.crawl(spider).paused


def _state_answer(crawl: Crawl, urls: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "spider": crawl.spider_name,
        "crawl_id": crawl.id,
        "state": crawl.state,
        "paused": crawl.paused,
        "in_flight": crawl.in_flight,
    }
    if urls:
        answer["in_flight_urls"] = crawl.in_flight_urls()
    return answer


class SpidersFacade:
    """``crawler/spiders``: the spiders the project's spider loader knows."""

    def __init__(self, api: WebServiceAPI) -> None:
        self._api = api
        self._names: list[str] | None = None

    @readonly
    def list(self) -> list[str]:
        """Names of every spider of the project, running or not."""
        if self._names is None:
            self._names = self._api.project_spiders()
        return list(self._names)


class CrawlerFacade:
    """``crawler``: the seed's crawler resource, over every crawl of the process."""

    def __init__(self, api: WebServiceAPI, crawler: Crawler) -> None:
        self.engine = EngineFacade(api)
        self.spiders = SpidersFacade(api)
        self.downloader = DownloaderFacade(api)
        self.scheduler = SchedulerFacade(api)
        self.settings = SettingsFacade(api, crawler)
        self._api = api

    @data
    def extensions(self) -> dict[str, list[str]]:
        """The enabled extensions of each running crawl, by spider name."""
        return {label: crawl.extensions() for label, crawl in self._api.crawls_by_label().items()}


class CrawlerResource(JsonRpcResource):
    """``crawler`` and its children: ``engine``, ``spiders``, ``extensions``,
    ``downloader``, ``scheduler``, ``settings``."""

    ws_name = "crawler"
    exposed = frozenset({"engine", "spiders", "extensions", "downloader", "scheduler", "settings"})

    def __init__(self, crawler: Crawler, target: Any = None) -> None:
        super().__init__(crawler, target)
        self._facade: CrawlerFacade | None = None

    def get_target(self) -> CrawlerFacade:
        if self._facade is None:
            self._facade = CrawlerFacade(self.api, self.crawler)
        return self._facade
