"""``health``: liveness for load balancers and supervisors, without a token."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .. import Access, JsonResource

if TYPE_CHECKING:
    from twisted.web.server import Request

__all__ = ["HealthResource"]


class HealthResource(JsonResource):
    """``GET health`` → ``{"status": "ok", "pid": 4242}``: nothing secret, so it is public.

    The process id lets a client that found the service through a discovery
    file check that it talks to that file's process before it sends the
    token (the port may have been taken over since). With a token (either),
    the answer also says what runs: each crawl's state, its scrapyd job id
    and, for those that ended while the service lingers, their
    ``finish_reason``, so a monitor sees how a crawl ended, and the
    service's own load (``WEBSERVICE_MAX_SHARE``: time spent, time paused,
    requests refused); without one it names nothing.
    """

    ws_name = "health"
    public = True

    def render_GET(self, txrequest: Request) -> dict[str, Any]:
        answer: dict[str, Any] = {"status": "ok", "pid": os.getpid()}
        api = self.api
        if api.access(txrequest) is Access.NONE:
            return answer
        answer["lingering"] = api.lingering
        answer["load"] = api.load()
        answer["crawls"] = {
            label: {
                "crawl_id": crawl.id,
                "job": crawl.job,
                "state": crawl.state,
                "finish_reason": crawl.finish_reason,
            }
            for label, crawl in api.crawls_by_label(finished=True).items()
        }
        return answer
