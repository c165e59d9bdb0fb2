"""``health``: liveness for load balancers and supervisors, without a token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import JsonResource

if TYPE_CHECKING:
    from twisted.web.server import Request

__all__ = ["HealthResource"]


class HealthResource(JsonResource):
    """``GET health`` → ``{"status": "ok"}``: nothing about the crawl, so it is public."""

    ws_name = "health"
    public = True

    def render_GET(self, txrequest: Request) -> dict[str, str]:
        return {"status": "ok"}
