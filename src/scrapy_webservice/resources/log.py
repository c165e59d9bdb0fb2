"""``log``: the crawl's log level, read and changed while it runs.

``set_level("DEBUG")`` is what people restart a crawl with ``-L DEBUG``
for; ``/events?events=log&level=DEBUG`` then streams those records.
"""

from __future__ import annotations

from typing import Any

from .. import JsonRpcResource, WebServiceAPI, control, readonly

__all__ = ["LogFacade", "LogResource"]


class LogFacade:
    """``log``: ``get_level`` and ``set_level``, crawl-wide or for one logger."""

    def __init__(self, api: WebServiceAPI) -> None:
        self._api = api

    @readonly
    def get_level(self, logger: str | None = None) -> dict[str, Any]:
        """The level the log writes from: crawl-wide (``LOG_LEVEL`` at start), or of one logger."""
        return self._api.log_level(logger)

    @control
    def set_level(self, level: str, logger: str | None = None) -> dict[str, Any]:
        """Write records from ``level`` up (DEBUG, INFO, WARNING, ERROR, CRITICAL) from now on.

        Without ``logger``, crawl-wide: Scrapy's log handler and the root
        logger. With it, that logger only (it must exist). The process's
        log file and console get the change as well as ``/events``.
        """
        return self._api.set_log_level(level, logger)


class LogResource(JsonRpcResource):
    """``log``: JSON-RPC ``get_level`` and ``set_level``."""

    ws_name = "log"

    def __init__(self, crawler: Any, target: Any = None) -> None:
        super().__init__(crawler, target)
        self._facade: LogFacade | None = None

    def get_target(self) -> LogFacade:
        if self._facade is None:
            self._facade = LogFacade(self.api)
        return self._facade
