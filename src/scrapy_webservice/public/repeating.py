"""``Repeating``: periodic work on the crawl's loop, with or without a reactor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..adapter.loop import Clock, DelayedCall, crawl_clock

__all__ = ["Repeating"]


class Repeating:
    """Call ``func`` every ``interval`` seconds on the crawl's loop, until :meth:`stop`.

    What a plugin uses for periodic work (start it in ``service_started``,
    stop it in ``service_stopped``): Twisted's ``LoopingCall`` needs the
    reactor, which Scrapy without one (``TWISTED_REACTOR_ENABLED = False``)
    refuses; this runs on either. ``clock`` is for tests (Twisted's
    ``task.Clock``); by default, the crawl's loop, found at :meth:`start`.
    The next call is timed from the end of the last one; an exception in
    ``func`` is the loop's to report, and the calls go on.
    """

    def __init__(self, func: Callable[[], Any], clock: Clock | None = None) -> None:
        self.func = func
        self.clock = clock
        self.running = False
        self.interval = 0.0
        self.call: DelayedCall | None = None

    def start(self, interval: float, now: bool = True) -> None:
        if self.clock is None:
            self.clock = crawl_clock()
        self.running = True
        self.interval = interval
        if now:
            self.run()
        else:
            self.call = self.clock.callLater(interval, self.run)

    def run(self) -> None:
        if not self.running:
            return
        try:
            self.func()
        finally:
            if self.running and self.clock is not None:
                self.call = self.clock.callLater(self.interval, self.run)

    def stop(self) -> None:
        self.running = False
        if self.call is not None and self.call.active():
            self.call.cancel()
        self.call = None
