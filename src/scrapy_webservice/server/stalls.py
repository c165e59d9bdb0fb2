"""The crawl's own stalls: a watchdog that names the code that blocked the reactor.

Users' blocking code (``requests.get`` in a callback, a blocking database
driver in a pipeline, a huge regex) is the most common reason a Scrapy
crawl is slow, and the reactor cannot see it: while it is blocked, nothing
on it runs. So the watch is split in two:

- on the reactor, a heartbeat timer every ``interval`` notes when it ran,
  and how late (the loop's lag, kept as a histogram);
- a watchdog thread, which does no work on the reactor, wakes when a
  heartbeat is overdue by more than ``threshold`` and takes the reactor
  thread's stack at that moment.

When the reactor runs again, the late heartbeat turns what the thread saw
into one :class:`Stall` (``on_stall`` is called on the reactor thread,
where the event bus lives). Code that holds the GIL the whole time (a C
extension, a regular expression) keeps the thread from looking until it
returns: the stack is then taken just after, usually still in the function
that blocked.

Transport-neutral: the timer and the clock are given, as for the budget.
"""

from __future__ import annotations

import logging
import site
import sysconfig
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..adapter import internals as adapter

__all__ = ["LAG_BUCKETS", "Stall", "StallWatchdog", "where"]

logger = logging.getLogger(__name__)

#: Upper bounds (seconds) of the reactor-lag histogram: from a loaded loop to a stall.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Stalls kept for ``stalls.recent`` and ``scrapy-ws stalls``.
RECENT = 50
#: Frames kept of a stack (innermost last): a callback is rarely deeper.
STACK_LIMIT = 40
#: The longest heartbeat interval; a lower threshold beats more often.
MAX_INTERVAL = 0.1


@dataclass
class Stall:
    """One spell in which the reactor did not run: how long, and what ran instead."""

    seconds: float
    #: Wall time (Unix seconds) when the watchdog saw the reactor blocked.
    seen_at: float
    #: ``path:line in function``, innermost last.
    stack: list[str] = field(default_factory=list)
    #: The innermost of them in the user's code (see :func:`where`), or ``None``.
    where: str | None = None
    #: The source line at ``where``, when the file can be read.
    code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "seen_at": round(self.seen_at, 3),
            "where": self.where,
            "code": self.code,
            "stack": list(self.stack),
        }


class LagHistogram:
    """How late the heartbeat ran, cumulatively, in Prometheus's shape."""

    def __init__(self, buckets: tuple[float, ...] = LAG_BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.sum += seconds
        for index, bound in enumerate(self.buckets):
            if seconds <= bound:
                self.counts[index] += 1
                break

    def snapshot(self) -> dict[str, Any]:
        """Cumulative counts per upper bound (``+Inf`` last), the count and the sum."""
        running = 0
        cumulative: list[list[Any]] = []
        for bound, count in zip(self.buckets, self.counts, strict=True):
            running += count
            cumulative.append([bound, running])
        cumulative.append(["+Inf", self.count])
        return {"buckets": cumulative, "count": self.count, "sum": round(self.sum, 6)}


class StallWatchdog:
    """Heartbeat on the reactor, watch from a thread; ``on_stall`` for each stall seen.

    ``threshold`` is how long the reactor may go without running (seconds).
    ``call_later(delay, fn)`` is the event loop's timer and ``now`` a
    monotonic clock. Start it from the reactor thread: that is the thread it
    watches.
    """

    def __init__(
        self,
        threshold: float,
        call_later: Callable[[float, Callable[[], None]], Any],
        on_stall: Callable[[Stall], None],
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.interval = min(MAX_INTERVAL, threshold / 5)
        self.call_later = call_later
        self.on_stall = on_stall
        self.now = now
        self.lag = LagHistogram()
        self.recent: deque[Stall] = deque(maxlen=RECENT)
        self.count = 0
        self.max_seconds = 0.0
        #: (heartbeat number, when it ran): one tuple, so the thread reads both at once.
        self._beat: tuple[int, float] = (0, now())
        #: What the thread saw while heartbeat number N was overdue: (N, stack).
        self._seen: tuple[int, list[traceback.FrameSummary], float] | None = None
        self._timer: Any = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._reactor_thread = 0

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        self._reactor_thread = threading.get_ident()
        self._beat = (0, self.now())
        self._stopped.clear()
        self._timer = self.call_later(self.interval, self._heartbeat)
        self._thread = threading.Thread(
            target=self._watch, name="scrapy-webservice stall watchdog", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(1.0)

    # -- on the reactor ---------------------------------------------------------------

    def _heartbeat(self) -> None:
        number, last = self._beat
        now = self.now()
        late = max(0.0, now - last - self.interval)
        self._beat = (number + 1, now)
        self._timer = self.call_later(self.interval, self._heartbeat)
        self.lag.observe(late)
        seen, self._seen = self._seen, None
        if late > self.threshold:
            if seen is not None and seen[0] == number:
                self._stalled(late, seen[1], seen[2])
            else:  # the thread did not get to look (the GIL held throughout)
                self._stalled(late, [], time.time() - late)

    def _stalled(
        self, seconds: float, frames: list[traceback.FrameSummary], seen_at: float
    ) -> None:
        found = where(frames)
        stall = Stall(
            seconds=seconds,
            seen_at=seen_at,
            stack=[_describe(frame) for frame in frames],
            where=_describe(found) if found is not None else None,
            code=(found.line or None) if found is not None else None,
        )
        self.count += 1
        self.max_seconds = max(self.max_seconds, seconds)
        self.recent.append(stall)
        try:
            self.on_stall(stall)
        except Exception:
            logger.exception("Web service: reporting a stall failed")

    def snapshot(self, limit: int = RECENT) -> dict[str, Any]:
        """What the watchdog has seen, as plain JSON values (newest stall last)."""
        recent = list(self.recent)[-limit:] if limit > 0 else []
        return {
            "threshold": self.threshold,
            "count": self.count,
            "max_seconds": round(self.max_seconds, 3),
            "recent": [stall.as_dict() for stall in recent],
            "lag": self.lag.snapshot(),
        }

    # -- on the watchdog thread ----------------------------------------------------------

    def _watch(self) -> None:
        stopped = self._stopped
        while not stopped.is_set():
            number, last = self._beat
            overdue_at = last + self.interval + self.threshold
            wait = overdue_at - self.now()
            if wait > 0:
                stopped.wait(wait)
                continue
            if self._beat[0] == number and (self._seen is None or self._seen[0] != number):
                self._seen = (number, self._reactor_stack(), time.time())
            # Seen: look again when the next heartbeat would be overdue, not before.
            stopped.wait(self.interval)

    def _reactor_stack(self) -> list[traceback.FrameSummary]:
        frame = adapter.thread_frame(self._reactor_thread)
        if frame is None:
            return []
        try:
            return list(traceback.extract_stack(frame, limit=STACK_LIMIT))
        except Exception:  # a frame torn down while read; the next stall will say
            return []


def _describe(frame: traceback.FrameSummary) -> str:
    return f"{frame.filename}:{frame.lineno} in {frame.name}"


def _library_roots() -> tuple[str, ...]:
    """Where code that is not the user's lives: the standard library, installed
    packages, and Scrapy, Twisted and this package wherever they are installed."""
    import scrapy
    import twisted

    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    # Debian's /usr/lib/python3/dist-packages, a user's ~/.local: not in sysconfig's paths.
    # (Not sys.prefix itself: a project under /usr/src/app is the user's code.)
    roots |= set(site.getsitepackages()) | {site.getusersitepackages()}
    roots |= {str(Path(module.__file__ or "").parent) for module in (scrapy, twisted)}
    roots.add(str(Path(__file__).parent))
    return tuple(sorted(root.rstrip("/") + "/" for root in roots if root))


_ROOTS: tuple[str, ...] | None = None


def _is_library(filename: str) -> bool:
    global _ROOTS
    if _ROOTS is None:
        _ROOTS = _library_roots()
    return filename.startswith("<") or filename.startswith(_ROOTS)


def where(frames: list[traceback.FrameSummary]) -> traceback.FrameSummary | None:
    """The innermost frame of the user's code: outside the standard library, installed
    packages, Scrapy, Twisted, asyncio and this package. A spider's callback or a
    pipeline's method, usually; failing that, the innermost frame of all."""
    for frame in reversed(frames):
        if not _is_library(frame.filename):
            return frame
    return frames[-1] if frames else None
