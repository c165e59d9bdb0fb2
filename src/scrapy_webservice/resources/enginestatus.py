"""``enginestatus`` and ``enginestatus/<spider>``: Scrapy's engine status as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import HttpError, JsonResource

if TYPE_CHECKING:
    from twisted.web.resource import Resource
    from twisted.web.server import Request

__all__ = ["EngineStatusResource"]


class EngineStatusResource(JsonResource):
    """``GET enginestatus``: every running spider; ``enginestatus/<spider>``: one.

    The keys are the expressions Scrapy evaluates (as in the telnet
    console's ``est()`` and the seed's resource), so existing tooling keeps
    working; ``state``, ``in_flight``, ``scheduled``, ``crawl_id`` and
    ``rates`` are this service's own.
    """

    ws_name = "enginestatus"

    def render_GET(self, txrequest: Request) -> dict[str, dict[str, Any]]:
        return {
            label: crawl.engine_status() for label, crawl in self.api.crawls_by_label().items()
        }

    def child(self, name: str, request: Request) -> Resource:
        return _SpiderEngineStatus(self.crawler, name)


class _SpiderEngineStatus(JsonResource):
    isLeaf = True

    def __init__(self, crawler: Any, spider: str) -> None:
        super().__init__(crawler)
        self.spider = spider

    def render_GET(self, txrequest: Request) -> dict[str, Any]:
        if txrequest.postpath not in ([], [b""]):
            raise HttpError(404, "No such resource below a spider's engine status")
        return self.api.crawl(self.spider).engine_status()
