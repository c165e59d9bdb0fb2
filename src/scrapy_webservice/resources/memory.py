"""``memory``: the process's memory, its garbage collector and Scrapy's live references.

What Scrapy's "Debugging memory leaks" page does in the telnet console
(``prefs()``, ``get_oldest``), as data. Every read is cheap: nothing here
walks every object of the process (``gc.get_objects()`` would hold the
crawl's reactor for tens of milliseconds on a big crawl); ``live_refs``
reads only the objects Scrapy's ``trackref`` tracks, as ``prefs()`` does.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path
from typing import Any

from scrapy.utils import trackref

from .. import JsonRpcResource, WebServiceAPI, WebServiceAPIError, control, readonly

__all__ = ["COLLECT_INTERVAL", "MemoryFacade", "MemoryResource"]

#: Seconds between two full collections asked by clients.
COLLECT_INTERVAL = 60.0


class NoLiveObject(WebServiceAPIError, LookupError):
    code = -32001
    status = 404


class TooSoon(WebServiceAPIError):
    status = 429


def rss_bytes() -> int | None:
    """Resident memory now (Linux's ``/proc``; ``None`` elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int | None:
    """The most resident memory the process ever had (what Scrapy's memusage reads)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class MemoryFacade:
    """``memory``: usage, live references, the oldest object of a class, a full collection."""

    def __init__(self, api: WebServiceAPI) -> None:
        self._api = api
        self._last_collect: float | None = None

    @readonly
    def usage(self) -> dict[str, Any]:
        """RSS now and at its peak, the garbage collector's generations, and the
        ``memusage/*`` stats of each crawl where Scrapy's MemoryUsage extension runs.
        """
        memusage = {
            label: values
            for label, crawl in self._api.crawls_by_label().items()
            if (values := {k: v for k, v in crawl.stats().items() if k.startswith("memusage/")})
        }
        rss, peak = rss_bytes(), peak_rss_bytes()
        if rss is not None and peak is not None:
            # Linux updates the high-water mark lazily: it can lag the RSS read now.
            peak = max(peak, rss)
        return {
            "rss_bytes": rss,
            "peak_rss_bytes": peak,
            "gc": {
                "enabled": gc.isenabled(),
                "counts": list(gc.get_count()),
                "thresholds": list(gc.get_threshold()),
                "generations": gc.get_stats(),
            },
            "memusage": memusage,
        }

    @readonly
    def live_refs(self) -> list[dict[str, Any]]:
        """What ``prefs()`` prints, as data: per tracked class its live count and oldest age.

        Scrapy tracks requests, responses, items, selectors and spiders
        (``scrapy.utils.trackref``); classes with no live object are left out.
        """
        rows = []
        for cls, objects in sorted(trackref.live_refs.items(), key=lambda kv: kv[0].__name__):
            stamps = list(objects.values())
            if not stamps:
                continue
            rows.append(
                {
                    "class": cls.__name__,
                    "module": cls.__module__,
                    "count": len(stamps),
                    "oldest_seconds": round(max(0.0, _age(min(stamps))), 3),
                }
            )
        return rows

    @readonly
    def oldest(self, class_name: str) -> dict[str, Any]:
        """A summary of the oldest live object of a tracked class (``get_oldest``):
        its age, and for requests and responses the URL and callback.
        """
        found = _oldest(class_name)
        if found is None:
            alive = ", ".join(row["class"] for row in self.live_refs()) or "none"
            raise NoLiveObject(
                f"No live object of class {class_name[:100]!r} (classes alive: {alive})"
            )
        obj, stamp = found
        return self._api.redact(
            {"class": type(obj).__name__, "age_seconds": round(_age(stamp), 3), **_summary(obj)}
        )

    @control
    def collect(self) -> dict[str, Any]:
        """A full garbage collection now: what it found unreachable and how long the crawl waited.

        Refused within a minute of the last one: each holds the crawl's reactor.
        """
        now = time.monotonic()
        if self._last_collect is not None and now - self._last_collect < COLLECT_INTERVAL:
            wait = COLLECT_INTERVAL - (now - self._last_collect)
            raise TooSoon(
                f"a collection ran {now - self._last_collect:.0f} s ago; try in {wait:.0f} s"
            )
        before = rss_bytes()
        started = time.perf_counter()
        unreachable = gc.collect()
        seconds = time.perf_counter() - started
        self._last_collect = time.monotonic()
        after = rss_bytes()
        return {
            "unreachable": unreachable,
            "seconds": round(seconds, 6),
            "rss_before_bytes": before,
            "rss_after_bytes": after,
            "freed_bytes": None if before is None or after is None else before - after,
        }


def _age(stamp: float) -> float:
    """Seconds since ``trackref`` stamped an object (nanoseconds of ``monotonic_ns`` since
    Scrapy 2.14, ``time()`` before)."""
    if isinstance(stamp, int):
        return (time.monotonic_ns() - stamp) / 1e9
    return time.time() - stamp


def _oldest(class_name: str) -> tuple[Any, float] | None:
    for cls, objects in list(trackref.live_refs.items()):
        if cls.__name__ == class_name:
            items = list(objects.items())
            if items:
                return min(items, key=lambda item: item[1])
    return None


def _callback_name(request: Any) -> str | None:
    callback = getattr(request, "callback", None)
    if callback is None:
        return None
    return getattr(callback, "__name__", None) or str(callback)


def _summary(obj: Any) -> dict[str, Any]:
    from scrapy import Request
    from scrapy.http import Response

    if isinstance(obj, Request):
        return {
            "url": obj.url,
            "method": obj.method,
            "callback": _callback_name(obj),
            "priority": obj.priority,
        }
    if isinstance(obj, Response):
        try:
            request = obj.request
        except AttributeError:
            request = None
        return {
            "url": obj.url,
            "status": obj.status,
            "callback": None if request is None else _callback_name(request),
        }
    name = getattr(obj, "name", None)
    if isinstance(name, str):  # a spider
        return {"name": name}
    return {"repr": repr(obj)[:300]}


class MemoryResource(JsonRpcResource):
    """``memory``: JSON-RPC ``usage``, ``live_refs``, ``oldest``, ``collect``."""

    ws_name = "memory"

    def __init__(self, crawler: Any, target: Any = None) -> None:
        super().__init__(crawler, target)
        self._facade: MemoryFacade | None = None

    def get_target(self) -> MemoryFacade:
        if self._facade is None:
            self._facade = MemoryFacade(self.api)
        return self._facade
