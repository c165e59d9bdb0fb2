"""``health``: liveness for load balancers and supervisors, without a token."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .. import JsonResource

if TYPE_CHECKING:
    from twisted.web.server import Request

__all__ = ["HealthResource"]


class HealthResource(JsonResource):
    """``GET health`` → ``{"status": "ok", "pid": 4242}``: nothing secret, so it is public.

    The process id lets a client that found the service through a discovery
    file check that it talks to that file's process before it sends the
    token (the port may have been taken over since).
    """

    ws_name = "health"
    public = True

    def render_GET(self, txrequest: Request) -> dict[str, Any]:
        return {"status": "ok", "pid": os.getpid()}
