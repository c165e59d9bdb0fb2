"""``stats``: the stats and live rates of the running crawls."""

from __future__ import annotations

from numbers import Number
from typing import Any

from .. import JsonRpcResource, WebServiceAPI, readonly

__all__ = ["StatsFacade", "StatsResource"]


class StatsFacade:
    """The stats of the service's crawls, addressed by spider name or crawl id."""

    def __init__(self, api: WebServiceAPI) -> None:
        self._api = api

    @readonly
    def get_stats(self, spider: str | None = None) -> dict[str, Any]:
        """All stats of ``spider``; without it, the process's stats.

        With one crawl in the process those are its stats as they are;
        with several, numeric stats are summed over the crawls (other
        values differ per crawl and are left out: ask per spider).
        """
        if spider is not None:
            return self._api.crawl(spider).stats()
        crawls = self._api.crawls()
        if len(crawls) == 1:
            return crawls[0].stats()
        totals: dict[str, Any] = {}
        for crawl in crawls:
            for key, value in crawl.stats().items():
                if isinstance(value, Number) and not isinstance(value, bool):
                    totals[key] = totals.get(key, 0) + value
        return totals

    @readonly
    def get_rates(self, spider: str | None = None) -> dict[str, Any]:
        """Live rates of ``spider``; without it, of every running spider by name.

        Pages, items, errors (ERROR log records) and retries per minute over
        the last minute and since the start, response status counts, the
        state (``running``, ``pausing``, ``paused``…) and requests in flight.
        Where two crawls run one spider, each is keyed by its crawl id.
        """
        if spider is not None:
            return self._api.crawl(spider).rates()
        return {label: crawl.rates() for label, crawl in self._api.crawls_by_label().items()}

    @readonly
    def get_value(self, key: str, default: Any = None, spider: str | None = None) -> Any:
        """One stat, or ``default`` when it is not set."""
        return self.get_stats(spider).get(key, default)


class StatsResource(JsonRpcResource):
    """JSON-RPC ``get_stats`` / ``get_value`` / ``get_rates``; also by ``GET stats/<method>``."""

    ws_name = "stats"

    def __init__(self, crawler: Any, target: Any = None) -> None:
        super().__init__(crawler, target)
        self._facade: StatsFacade | None = None

    def get_target(self) -> StatsFacade:
        if self._facade is None:
            self._facade = StatsFacade(self.api)
        return self._facade
