"""Everything this project reads of Scrapy that Scrapy does not promise.

Scrapy keeps requests in flight, the closing state and the wake-up call of
its engine in a private slot, and its public surface has moved between
2.13 and 2.19 (``engine.scheduler`` is public only from 2.19,
``close_spider_async`` from 2.14). Reading those details in one module
keeps the rest of the code on public ground, lets one test file check each
function on every supported Scrapy version, and makes a Scrapy upgrade a
change of one file. ``tests/test_layering.py`` fails if any other module
of ``src/`` or ``plugins/`` reads a private attribute.

Every function takes what Scrapy gives (a crawler or an engine) and
returns plain values; none is part of the public API.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request
    from twisted.internet.defer import Deferred

__all__ = [
    "close_spider",
    "crawl_state",
    "downloading",
    "enabled_extensions",
    "engine_of",
    "engine_status",
    "in_flight_requests",
    "project_spider_names",
    "resume",
    "scheduler_size",
    "spider_of",
]

logger = logging.getLogger(__name__)


def engine_of(crawler: Crawler) -> Any:
    """The crawler's engine, or ``None`` before the crawl starts (2.13+ raise there)."""
    try:
        return crawler.engine
    except RuntimeError:
        return None


def spider_of(crawler: Crawler) -> Any:
    """The open spider of ``crawler``, or ``None`` when it is not crawling."""
    engine = engine_of(crawler)
    return None if engine is None else engine.spider


def _slot(engine: Any) -> Any:
    # The engine's private slot: requests in flight, closing, the next call.
    return getattr(engine, "_slot", None)


def resume(engine: Any) -> None:
    """Unpause, and fetch at once: the engine would wait for its next heartbeat (5 s)."""
    engine.unpause()
    slot = _slot(engine)
    if slot is not None:
        slot.nextcall.schedule()


def in_flight_requests(engine: Any) -> list[Request]:
    """Requests taken off the scheduler and not yet fully processed."""
    slot = _slot(engine)
    return list(slot.inprogress) if slot is not None else []


def crawl_state(engine: Any) -> str:
    """``running``, ``pausing``, ``paused``, ``closing`` or ``closed``.

    Derived from the engine each time, never stored: a pause made elsewhere
    (the telnet console, another extension) reads right too.
    """
    if engine is None or engine.spider is None:
        return "closed"
    slot = _slot(engine)
    if slot is not None and slot.closing is not None:
        return "closing"
    if engine.paused:
        return "pausing" if slot is not None and slot.inprogress else "paused"
    return "running"


def scheduler_size(engine: Any) -> int | None:
    """Requests waiting in the scheduler; ``None`` when the scheduler cannot tell."""
    scheduler = getattr(engine, "scheduler", None)  # public from Scrapy 2.19
    if scheduler is None:
        scheduler = getattr(_slot(engine), "scheduler", None)
    if scheduler is None or not hasattr(scheduler, "__len__"):
        return None
    return len(scheduler)


def downloading(engine: Any) -> int:
    """Requests in the downloader now."""
    return len(getattr(engine.downloader, "active", ()))


def engine_status(engine: Any) -> dict[str, Any]:
    """Scrapy's ``get_engine_status`` report (what the telnet console's ``est()`` prints)."""
    from scrapy.utils.engine import get_engine_status

    return dict(get_engine_status(engine))


def close_spider(crawler: Crawler, reason: str) -> Deferred[Any] | None:
    """Start closing the crawler's spider; ``None`` if it is not open.

    The caller schedules this on the reactor and never waits for it inside
    a request: closing can take as long as the requests in flight.
    """
    from scrapy.utils.defer import deferred_from_coro

    engine = engine_of(crawler)
    if engine is None or engine.spider is None:
        return None
    close_async = getattr(engine, "close_spider_async", None)
    if close_async is not None:
        d: Deferred[Any] = deferred_from_coro(close_async(reason=reason))
    else:  # Scrapy < 2.14
        d = engine.close_spider(engine.spider, reason)
    name = engine.spider.name
    d.addErrback(
        lambda failure: logger.error(
            "Closing spider %s failed: %s", name, failure.getErrorMessage()
        )
    )
    return d


def enabled_extensions(crawler: Crawler) -> list[Any]:
    """The extension objects the crawler's extension manager enabled."""
    manager = getattr(crawler, "extensions", None)
    return list(getattr(manager, "middlewares", ()))


def project_spider_names(crawler: Crawler) -> list[str]:
    """Every spider the project's spider loader knows, running or not."""
    try:
        from scrapy.spiderloader import get_spider_loader
    except ImportError:  # Scrapy < 2.13
        from scrapy.spiderloader import SpiderLoader

        return sorted(SpiderLoader.from_settings(crawler.settings.frozencopy()).list())
    return sorted(get_spider_loader(crawler.settings).list())
