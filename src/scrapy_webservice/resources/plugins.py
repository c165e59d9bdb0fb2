"""``plugins``: what plugins loaded into this service, and which failed and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import JsonResource

if TYPE_CHECKING:
    from twisted.web.server import Request

__all__ = ["PluginsResource"]


class PluginsResource(JsonResource):
    """``GET plugins`` → ``{"plugins": [...], "failures": [...]}``."""

    ws_name = "plugins"

    def render_GET(self, txrequest: Request) -> dict[str, Any]:
        return self.api.plugins()
