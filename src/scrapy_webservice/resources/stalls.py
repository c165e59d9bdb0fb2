"""``stalls``: when the crawl's reactor was blocked, for how long, and by what code."""

from __future__ import annotations

from typing import Any

from .. import JsonRpcResource, WebServiceAPI, readonly

__all__ = ["StallsFacade", "StallsResource"]


class StallsFacade:
    """The stall watchdog's findings (``WEBSERVICE_STALL_THRESHOLD``), read-only."""

    def __init__(self, api: WebServiceAPI) -> None:
        self._api = api

    @readonly
    def recent(self, limit: int = 20) -> dict[str, Any]:
        """The ``limit`` most recent stalls (oldest first), their count and the longest.

        Each stall: ``seconds`` the reactor did not run, ``seen_at`` (Unix
        time), ``where`` (``path:line in function``, the innermost frame of
        the user's code), ``code`` (that line) and ``stack`` (innermost
        last). ``threshold`` is ``None`` when the watchdog is off.
        """
        found = self._api.stalls(max(0, min(limit, 50)))
        return {key: value for key, value in found.items() if key != "lag"}

    @readonly
    def lag(self) -> dict[str, Any] | None:
        """How late the reactor ran the watchdog's heartbeat: a cumulative histogram.

        ``buckets`` (``[upper bound in seconds, count]``, ``"+Inf"`` last),
        ``count`` and ``sum``; ``None`` when the watchdog is off.
        """
        lag: dict[str, Any] | None = self._api.stalls(0)["lag"]
        return lag


class StallsResource(JsonRpcResource):
    """``stalls``: JSON-RPC ``recent`` and ``lag``."""

    ws_name = "stalls"

    def __init__(self, crawler: Any, target: Any = None) -> None:
        super().__init__(crawler, target)
        self._facade: StallsFacade | None = None

    def get_target(self) -> StallsFacade:
        if self._facade is None:
            self._facade = StallsFacade(self.api)
        return self._facade
