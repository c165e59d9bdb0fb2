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
import sys
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import FrameType

    from scrapy.crawler import Crawler
    from scrapy.http import Request
    from twisted.internet.defer import Deferred

__all__ = [
    "autothrottle_of",
    "close_spider",
    "crawl_state",
    "default_slot_delay",
    "downloader_of",
    "downloading",
    "enabled_extensions",
    "engine_of",
    "engine_status",
    "guard_slot",
    "guard_slot_concurrency",
    "in_flight_requests",
    "project_spider_names",
    "resume",
    "scheduler_queues",
    "scheduler_size",
    "scrapyd_job",
    "set_autothrottle_listening",
    "set_default_slot_delay",
    "slot_facts",
    "slot_jitter",
    "spider_of",
    "thread_frame",
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


def _scheduler(engine: Any) -> Any:
    scheduler = getattr(engine, "scheduler", None)  # public from Scrapy 2.19
    if scheduler is None:
        scheduler = getattr(_slot(engine), "scheduler", None)
    return scheduler


def scheduler_size(engine: Any) -> int | None:
    """Requests waiting in the scheduler; ``None`` when the scheduler cannot tell."""
    scheduler = _scheduler(engine)
    if scheduler is None or not hasattr(scheduler, "__len__"):
        return None
    return len(scheduler)


def scheduler_queues(engine: Any) -> dict[str, int]:
    """Requests waiting in Scrapy's scheduler by queue: ``memory``, and ``disk`` with JOBDIR.

    Empty for a scheduler that is not Scrapy's (or keeps other queues).
    """
    scheduler = _scheduler(engine)
    queues: dict[str, int] = {}
    for name, attribute in (("memory", "mqs"), ("disk", "dqs")):
        queue = getattr(scheduler, attribute, None)
        if queue is not None and hasattr(queue, "__len__"):
            queues[name] = len(queue)
    return queues


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
    # Read before closing: Scrapy < 2.14 may close at once and forget the spider.
    name = engine.spider.name
    close_async = getattr(engine, "close_spider_async", None)
    if close_async is not None:
        d: Deferred[Any] = deferred_from_coro(close_async(reason=reason))
    else:  # Scrapy < 2.14
        d = engine.close_spider(engine.spider, reason)
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


# -- the downloader ---------------------------------------------------------------------


def downloader_of(crawler: Crawler) -> Any:
    """The crawler's downloader (its ``slots``, ``total_concurrency``, ``per_slot_settings``)."""
    engine = engine_of(crawler)
    return None if engine is None else engine.downloader


def _downloader_clock() -> float:
    """Now, on the clock the downloader stamps ``slot.lastseen`` with.

    ``time.monotonic()`` from Scrapy 2.19, ``time.time()`` before.
    """
    from scrapy.core import downloader

    clock = getattr(downloader, "monotonic", None) or getattr(downloader, "time", None)
    return float(clock()) if clock is not None else time.time()


def slot_facts(slot: Any) -> dict[str, Any]:
    """What the telnet console's ``est()`` shows of one downloader slot, as data."""
    now = _downloader_clock()
    lastseen = float(getattr(slot, "lastseen", 0) or 0)
    return {
        "active": len(slot.active),
        "queued": len(slot.queue),
        "transferring": len(slot.transferring),
        "concurrency": slot.concurrency,
        "delay": slot.delay,
        "jitter": slot_jitter(slot),
        "idle_seconds": round(now - lastseen, 3) if lastseen else None,
    }


def slot_jitter(slot: Any) -> float:
    """How much a slot's delay varies (0.5 = +/-50%); Scrapy < 2.19 had a bool for it."""
    jitter = getattr(slot, "jitter", None)
    if jitter is None:
        return 0.5 if getattr(slot, "randomize_delay", False) else 0.0
    return float(jitter)


def default_slot_delay(crawler: Crawler) -> float:
    """The delay Scrapy gives a downloader slot it creates now (AutoThrottle's start delay)."""
    downloader = downloader_of(crawler)
    if hasattr(downloader, "_delay"):  # Scrapy >= 2.19 keeps it on the downloader
        return float(downloader._delay)
    spider = spider_of(crawler)
    if spider is not None and hasattr(spider, "download_delay"):  # Scrapy < 2.19
        return float(spider.download_delay)
    return crawler.settings.getfloat("DOWNLOAD_DELAY")


def set_default_slot_delay(crawler: Crawler, delay: float) -> None:
    """Make Scrapy create later downloader slots with ``delay``, as AutoThrottle does."""
    downloader = downloader_of(crawler)
    if hasattr(downloader, "_delay"):
        downloader._delay = delay
    else:  # Scrapy < 2.19 reads the spider's attribute for every new slot
        spider = spider_of(crawler)
        if spider is not None:
            spider.download_delay = delay


def autothrottle_of(crawler: Crawler) -> Any:
    """The crawler's AutoThrottle extension, or ``None`` when it was not loaded."""
    from scrapy.extensions.throttle import AutoThrottle

    return next((e for e in enabled_extensions(crawler) if isinstance(e, AutoThrottle)), None)


def set_autothrottle_listening(crawler: Crawler, throttle: Any, listening: bool) -> None:
    """Connect AutoThrottle's response handler, or disconnect it: that is what it does."""
    from scrapy import signals

    handler = throttle._response_downloaded
    if listening:
        crawler.signals.connect(handler, signal=signals.response_downloaded)
    else:
        crawler.signals.disconnect(handler, signal=signals.response_downloaded)


class _Transferring(set[Any]):
    """A slot's ``transferring``, counting the requests dispatched but not started yet.

    Scrapy 2.19 starts each download as an asyncio task: the request joins
    ``transferring`` only when the task first runs, so the loop that takes
    requests off a slot's queue while ``free_transfer_slots()`` is positive
    takes them all (a slot of concurrency 1 was seen with 6 transferring,
    ``CONCURRENT_REQUESTS_PER_DOMAIN = 1`` alike). Counted here, the limit
    holds. On older Scrapy the download starts at once and this changes nothing.
    """

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.starting: weakref.WeakSet[Any] = weakref.WeakSet()

    def add(self, request: Any) -> None:
        self.starting.discard(request)
        super().add(request)

    def __len__(self) -> int:
        return super().__len__() + len(self.starting)


class _Queue(deque[Any]):
    """A slot's queue that tells its ``_Transferring`` which request left for a download."""

    def __init__(self, items: Any, transferring: _Transferring) -> None:
        super().__init__(items)
        self.transferring = transferring

    def popleft(self) -> Any:
        item = super().popleft()
        self.transferring.starting.add(item[0])
        return item


class _GuardedSlots(dict[str, Any]):
    """The downloader's slots, each new one guarded as it is made."""

    def __setitem__(self, key: str, slot: Any) -> None:
        guard_slot(slot)
        super().__setitem__(key, slot)


def guard_slot(slot: Any) -> None:
    """Make a slot's concurrency hold on every Scrapy version (see ``_Transferring``)."""
    if isinstance(slot.transferring, _Transferring):
        return
    transferring = _Transferring(slot.transferring)
    slot.transferring = transferring
    slot.queue = _Queue(slot.queue, transferring)


def guard_slot_concurrency(crawler: Crawler) -> None:
    """Guard every slot of the crawl's downloader, and those it makes later."""
    downloader = downloader_of(crawler)
    if downloader is None or isinstance(downloader.slots, _GuardedSlots):
        return
    for slot in downloader.slots.values():
        guard_slot(slot)
    downloader.slots = _GuardedSlots(downloader.slots)


# -- scrapyd ------------------------------------------------------------------------------

#: Where scrapyd puts a job's id besides the spider's ``_job`` argument:
#: ``SCRAPYD_JOB`` from scrapyd 1.5, ``SCRAPY_JOB`` before (either may be gone).
JOB_ENVIRONMENT = ("SCRAPYD_JOB", "SCRAPY_JOB")


def scrapyd_job(crawler: Crawler) -> str | None:
    """The scrapyd job id of the crawl, or ``None`` when scrapyd did not start it.

    scrapyd runs ``scrapy crawl SPIDER -a _job=JOBID``, so the spider has it
    as its ``_job`` attribute; the environment variable is the fallback.
    """
    import os

    job = getattr(spider_of(crawler) or getattr(crawler, "spider", None), "_job", None)
    if job is None:
        job = next((os.environ[n] for n in JOB_ENVIRONMENT if os.environ.get(n)), None)
    return None if job is None else str(job)


# -- Twisted Web's HTTP channel -------------------------------------------------------------


def request_line(channel: Any) -> tuple[bytes, bytes, bytes] | None:
    """Method, target and version of the request whose head ``channel`` has just read.

    Twisted's ``HTTPChannel`` keeps them (``_command``, ``_path``,
    ``_version``, since Twisted 16) until the request is received whole; the
    site refuses a request without a token from its head with them.
    ``None`` if a Twisted release renamed them: the request then takes the
    full path, which refuses it as before, only later.
    """
    command = getattr(channel, "_command", None)
    path = getattr(channel, "_path", None)
    version = getattr(channel, "_version", None)
    if command is None or path is None or version is None:
        return None
    return command, path, version


# -- the interpreter ------------------------------------------------------------------------


def thread_frame(thread_id: int) -> FrameType | None:
    """The frame thread ``thread_id`` is running now, or ``None`` if it is gone.

    ``sys._current_frames()`` is CPython's documented way (the underscore
    says "for debugging", not "private to CPython"); PyPy has it too. The
    stall watchdog reads the reactor thread's frame with it while that
    thread is blocked.
    """
    return sys._current_frames().get(thread_id)
