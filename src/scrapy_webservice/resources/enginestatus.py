"""``enginestatus`` and ``enginestatus/<spider>``: Scrapy's engine status as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.utils.engine import get_engine_status
from twisted.web.resource import Resource

from ..monitor import crawl_state, in_flight_requests
from ..resource import JsonResource

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.web.server import Request

    from ..service import Service

__all__ = ["EngineStatusResource", "engine_status"]


def engine_status(crawler: Crawler, service: Service) -> dict[str, Any]:
    """Scrapy's ``get_engine_status`` report as an object, plus state and rates.

    The keys are the expressions Scrapy evaluates (as in the telnet
    console's ``est()`` and the seed's resource), so existing tooling keeps
    working; ``state``, ``in_flight`` and ``rates`` are this service's own.
    """
    engine = crawler.engine
    status = dict(get_engine_status(engine))
    status["engine.paused"] = bool(engine.paused)
    status["state"] = crawl_state(engine)
    status["in_flight"] = len(in_flight_requests(engine))
    monitor = service.monitors.get(crawler)
    if monitor is not None:
        status["rates"] = monitor.rates()
    return status


class EngineStatusResource(JsonResource):
    """``GET enginestatus``: every running spider; ``enginestatus/<spider>``: one."""

    ws_name = "enginestatus"

    def render_GET(self, txrequest: Request) -> dict[str, dict[str, Any]]:
        assert self.service is not None
        return {
            crawler.engine.spider.name: engine_status(crawler, self.service)
            for crawler in self.service.running_crawlers()
        }

    def child(self, name: str, request: Request) -> Resource:
        return _SpiderEngineStatus(self.crawler, name)


class _SpiderEngineStatus(JsonResource):
    isLeaf = True

    def __init__(self, crawler: Crawler, spider: str) -> None:
        super().__init__(crawler)
        self.spider = spider

    def render_GET(self, txrequest: Request) -> dict[str, Any]:
        assert self.service is not None
        return engine_status(self.service.crawler_for(self.spider), self.service)
