"""``stats``: the stats of the running crawls."""

from __future__ import annotations

from numbers import Number
from typing import TYPE_CHECKING, Any

from ..resource import JsonRpcResource, readonly

if TYPE_CHECKING:
    from ..service import Service

__all__ = ["StatsFacade", "StatsResource"]


class StatsFacade:
    """The stats collectors of the service's crawlers, addressed by spider name."""

    def __init__(self, service: Service) -> None:
        self._service = service

    @readonly
    def get_stats(self, spider: str | None = None) -> dict[str, Any]:
        """All stats of ``spider``; without it, the process's stats.

        With one crawler in the process those are its stats as they are;
        with several, numeric stats are summed over the crawlers (other
        values differ per crawler and are left out: ask per spider).
        """
        if spider is not None:
            return dict(self._service.crawler_for(spider).stats.get_stats())
        crawlers = self._service.running_crawlers()
        if len(crawlers) == 1:
            return dict(crawlers[0].stats.get_stats())
        totals: dict[str, Any] = {}
        for crawler in crawlers:
            for key, value in crawler.stats.get_stats().items():
                if isinstance(value, Number) and not isinstance(value, bool):
                    totals[key] = totals.get(key, 0) + value
        return totals

    @readonly
    def get_rates(self, spider: str | None = None) -> dict[str, Any]:
        """Live rates of ``spider``; without it, of every running spider by name.

        Pages, items, errors (ERROR log records) and retries per minute over
        the last minute and since the start, response status counts, the
        state (``running``, ``pausing``, ``paused``…) and requests in flight.
        """
        if spider is not None:
            crawler = self._service.crawler_for(spider)
            return self._service.monitor_for(crawler).rates()
        return {
            monitor.spider_name: monitor.rates()
            for crawler in self._service.running_crawlers()
            if (monitor := self._service.monitors.get(crawler)) is not None
        }

    @readonly
    def get_value(self, key: str, default: Any = None, spider: str | None = None) -> Any:
        """One stat, or ``default`` when it is not set."""
        return self.get_stats(spider).get(key, default)


class StatsResource(JsonRpcResource):
    """JSON-RPC ``get_stats`` / ``get_value``; ``GET stats`` lists the methods."""

    ws_name = "stats"

    def get_target(self) -> StatsFacade:
        assert self.service is not None, "mounted resources have a service"
        return StatsFacade(self.service)
